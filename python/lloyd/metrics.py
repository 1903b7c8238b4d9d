"""Internal cluster-validity scores on lloyd's exact kernels, with scikit-learn's arguments.

    from lloyd import metrics
    metrics.silhouette_score(X, labels)                      # = sklearn.metrics.silhouette_score
    metrics.silhouette_score(X_csr, labels, metric="cosine") # sparse rows stay sparse
    metrics.calinski_harabasz_score(X, labels)
    metrics.davies_bouldin_score(X, labels)

The values are scikit-learn's (the same definitions; sums are exact, so they agree with
scikit-learn's float64 results to ~1e-13) and the same bits as `lloyd evaluate` on the same
rows. With ``comm`` (an mpi4py communicator) every rank passes its own block of rows and their
labels (blocks in rank order make up the data set); the score is over all ranks, the same bits
on every rank and for any number of ranks, and no rank gathers the data: the silhouette streams
the row blocks around a ring of ranks.

Labels are any integers (or any values NumPy sorts, e.g. strings): each distinct value over all
ranks is a cluster, as scikit-learn's LabelEncoder. The number of clusters must be between 2 and
n_samples - 1 (scikit-learn's check_number_of_labels). Float32 rows are scored in double
precision (scikit-learn computes their distances in float32: expect ~1e-6 differences there).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state, column_or_1d

from . import _lloyd, _mpi

__all__ = ["silhouette_score", "silhouette_samples", "calinski_harabasz_score", "davies_bouldin_score"]

_SILHOUETTE_METRICS = ("euclidean", "cosine")


def _rows(X, comm, sparse_ok):
    """X as the kernels take it: C-order float32/float64 rows; CSR where `sparse_ok`."""
    X = check_array(X, accept_sparse="csr" if sparse_ok else False, dtype=[np.float64, np.float32], order="C",
                    accept_large_sparse=False, ensure_min_samples=0 if comm is not None else 1,
                    force_all_finite=False)  # the engine names the row and column of a NaN
    return X


def _sparse_to_dense(X):
    return np.ascontiguousarray(X.toarray()) if sp.issparse(X) else X


def _local_labels(labels, rows):
    labels = column_or_1d(labels, warn=True)
    if labels.shape[0] != rows:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{rows}, {labels.shape[0]}]")
    return labels


def _integer_labels(labels):
    """Whether the engine encodes the labels itself (integers that fit int64)."""
    if labels.dtype.kind == "i" or labels.dtype == np.bool_ or labels.size == 0:
        return True  # an empty block (a rank without rows) takes the other ranks' path
    if labels.dtype.kind == "u":
        return labels.size == 0 or int(labels.max()) <= np.iinfo(np.int64).max
    return False


def _encoded(labels, comm):
    """The labels as int64 values the engine encodes: integers as they are; other values
    (strings, floats, uint64 beyond int64) as their index among the distinct values of all
    ranks, which keeps the clusters and their order."""
    integer = _integer_labels(labels)
    if comm is not None:  # one path on every rank: the other one gathers collectively
        integer = all(comm.allgather(integer))
    if integer:
        return labels.astype(np.int64, copy=False)
    local = np.unique(labels)
    values = local if comm is None else np.unique(np.concatenate(comm.allgather(local)))
    return np.searchsorted(values, labels).astype(np.int64)


def _prepared(X, labels, comm, sparse_ok):
    def check():
        rows = _rows(X, comm, sparse_ok)
        return rows, _local_labels(labels, rows.shape[0])

    rows, local = _mpi.agreed(comm, check)
    return rows, _encoded(local, comm)


def _csr_arrays(X):
    return (X.data, X.indices.astype(np.int32, copy=False), X.indptr.astype(np.int64, copy=False), X.shape[1])


def _silhouette(X, labels, metric, sample_size, random_state, comm, samples):
    handle = _mpi.handle(comm)

    def check_arguments():
        if not isinstance(metric, str) or metric not in _SILHOUETTE_METRICS:
            raise ValueError(f"metric must be one of {', '.join(_SILHOUETTE_METRICS)} (lloyd's exact kernels), "
                             f"got {metric!r}")
        if sample_size is not None and (not isinstance(sample_size, numbers.Integral) or
                                        isinstance(sample_size, bool) or sample_size < 2):
            raise ValueError(f"sample_size must be an integer >= 2 or None, got {sample_size!r}")

    _mpi.agreed(comm, check_arguments)
    cosine = metric == "cosine"
    rows, codes = _prepared(X, labels, comm, sparse_ok=True)
    seed = 0
    if sample_size is not None:
        seed = _sample_seed(random_state)
        seed = _mpi.same_on_every_rank(comm, seed)
    size = int(sample_size or 0)
    if sp.issparse(rows) and cosine:
        out = _lloyd.silhouette_sparse(*_csr_arrays(rows), codes, size, seed, samples, handle)
    else:
        # Euclidean silhouettes are computed on dense rows, as `lloyd evaluate` densifies a CSR input.
        out = _lloyd.silhouette_dense(_sparse_to_dense(rows), codes, cosine, size, seed, samples, handle)
    return out


def _sample_seed(random_state):
    """An int is the seed `lloyd evaluate --seed` takes (the same sample); None or a
    RandomState draws one."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None, comm=None):
    """The mean silhouette coefficient of all rows (scikit-learn's silhouette_score).

    X : array (n_samples, n_features), float32/float64, or a CSR matrix (kept sparse with
        metric="cosine"; densified, as `lloyd evaluate` does, for "euclidean").
    labels : array (n_samples,), this rank's rows' labels with comm.
    metric : "euclidean" or "cosine" (scikit-learn's cosine_distances: an all-zero row is at
        distance 1 from every other row).
    sample_size : int or None
        The exact silhouette of a uniform sample of that many rows. lloyd draws its sample
        with its counter-based generator (the same rows for any number of ranks, and as
        `lloyd evaluate --sample-size N --seed S`), not scikit-learn's permutation: the value is
        an estimate of the same score, not scikit-learn's number for the same random_state.
    random_state : int, RandomState or None — the sample's seed.
    comm : mpi4py communicator or None.
    """
    return float(_silhouette(X, labels, metric, sample_size, random_state, comm, False)[0])


def silhouette_samples(X, labels, *, metric="euclidean", comm=None):
    """The silhouette coefficient of every row (scikit-learn's silhouette_samples): this rank's
    rows with comm."""
    return _silhouette(X, labels, metric, None, None, comm, True)[3]


def _mean_based(X, labels, comm, davies):
    rows, codes = _prepared(X, labels, comm, sparse_ok=True)
    return float(_lloyd.mean_based_score(_sparse_to_dense(rows), codes, davies, _mpi.handle(comm)))


def calinski_harabasz_score(X, labels, comm=None):
    """scikit-learn's calinski_harabasz_score (the variance ratio criterion), from exact
    per-cluster sums; a CSR X is densified."""
    return _mean_based(X, labels, comm, davies=False)


def davies_bouldin_score(X, labels, comm=None):
    """scikit-learn's davies_bouldin_score (lower is better); a CSR X is densified."""
    return _mean_based(X, labels, comm, davies=True)
