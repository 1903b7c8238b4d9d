"""lloyd.choose_k: a K-Means fit per K and the criteria that recommend a K, as `lloyd choose-k`."""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

from . import _lloyd, _mpi

# Each criterion by its name here, with the names `lloyd choose-k --criteria` takes.
_CRITERIA = {"inertia": "inertia", "elbow": "inertia", "silhouette": "silhouette",
             "calinski_harabasz": "calinski_harabasz", "calinski-harabasz": "calinski_harabasz",
             "ch": "calinski_harabasz", "davies_bouldin": "davies_bouldin", "davies-bouldin": "davies_bouldin",
             "db": "davies_bouldin", "gap": "gap"}
_ORDER = ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "gap")
# The columns each criterion adds to the table (k, n_iter and inertia are always there).
_COLUMNS = {"inertia": (), "silhouette": ("silhouette", "silhouette_stderr"),
            "calinski_harabasz": ("calinski_harabasz",), "davies_bouldin": ("davies_bouldin",),
            "gap": ("gap", "gap_s", "log_w", "reference_log_w")}
_INITS = ("k-means++", "k-means||", "forgy", "random-partition")
_ALGORITHMS = {"auto": "auto", "lloyd": "lloyd", "full": "lloyd", "elkan": "hamerly", "hamerly": "hamerly",
               "yinyang": "yinyang"}
_TITLES = {"inertia": "inertia (elbow)", "silhouette": "silhouette (max)",
           "calinski_harabasz": "Calinski-Harabasz (max)", "davies_bouldin": "Davies-Bouldin (min)",
           "gap": "gap statistic (Tibs2001SEmax)"}


class ChooseKResult:
    """The sweep of lloyd.choose_k.

    table : dict of NumPy arrays, one row per K: "k", "n_iter", "inertia", and the columns of
        the criteria computed — "silhouette" and "silhouette_stderr" (0 unless sampled),
        "calinski_harabasz", "davies_bouldin", "gap", "gap_s" (its standard error s_k), "log_w"
        and "reference_log_w" (log W_k of the data and its mean over the gap references). A
        criterion undefined at K (the internal ones at K = 1) is NaN.
    best : dict criterion -> recommended K: "inertia" the kneedle elbow of log inertia,
        "silhouette" and "calinski_harabasz" the largest, "davies_bouldin" the smallest, "gap"
        Tibshirani's smallest K with Gap(K) >= Gap(K+1) - s(K+1).
    silhouette_sampled : whether the silhouettes are of a sample (n > silhouette_max_exact).
    """

    def __init__(self, table, best, silhouette_sampled, metric):
        self.table = table
        self.best = best
        self.silhouette_sampled = silhouette_sampled
        self.metric = metric

    @property
    def criteria(self):
        return tuple(self.best)

    def __repr__(self):
        columns = list(self.table)
        lines = ["  ".join(f"{c:>14}" for c in columns)]
        for i in range(len(self.table["k"])):
            lines.append("  ".join(f"{self.table[c][i]:>14.8g}" for c in columns))
        picks = ", ".join(f"{name}={k}" for name, k in self.best.items())
        return f"ChooseKResult(metric={self.metric!r}, best: {picks})\n" + "\n".join(lines)

    def plot(self, ax=None):
        """One panel per criterion against K, its recommended K marked; returns the axes.

        ax : None (a new figure, panels side by side), or one Axes per criterion (a single Axes
            when there is one criterion). matplotlib is imported here only.
        """
        names = list(self.best)
        if ax is None:
            import matplotlib.pyplot as plt

            _, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), squeeze=False)
            axes = axes[0]
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
            if len(axes) != len(names):
                raise ValueError(f"ax must hold {len(names)} axes (one per criterion: {', '.join(names)}), "
                                 f"got {len(axes)}")
        k = self.table["k"]
        for axis, name in zip(axes, names):
            values = self.table[name]
            if name == "gap":
                axis.errorbar(k, values, yerr=self.table["gap_s"], marker="o", capsize=3)
            elif name == "silhouette" and self.silhouette_sampled:
                axis.errorbar(k, values, yerr=self.table["silhouette_stderr"], marker="o", capsize=3)
            else:
                axis.plot(k, values, marker="o")
            best = self.best[name]
            if best in k:
                at = int(np.flatnonzero(k == best)[0])
                axis.axvline(best, color="tab:red", linestyle="--", linewidth=1)
                axis.plot([best], [values[at]], marker="o", markersize=10, markerfacecolor="none",
                          color="tab:red", label=f"K = {best}")
                axis.legend(loc="best")
            axis.set_title(_TITLES[name])
            axis.set_xlabel("K")
            axis.set_xticks(k)
        return axes


def _check_int(name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _k_bounds(k_range):
    try:
        ks = [k for k in k_range]
    except TypeError:
        raise TypeError(f"k_range must be a range or a sequence of integers, e.g. range(2, 11), "
                        f"not {type(k_range).__name__}") from None
    if not ks or any(not isinstance(k, numbers.Integral) or isinstance(k, bool) for k in ks):
        raise ValueError(f"k_range must hold integers, e.g. range(2, 11), got {k_range!r}")
    ks = [int(k) for k in ks]
    if ks != list(range(ks[0], ks[0] + len(ks))) or ks[0] < 1:
        raise ValueError(f"k_range must be consecutive increasing integers >= 1, e.g. range(2, 11) for "
                         f"K = 2..10, got {k_range!r}")
    return ks[0], ks[-1]


def _criteria(criteria, metric):
    if criteria is None:
        return ("inertia", "silhouette") if metric == "cosine" else _ORDER
    if isinstance(criteria, str):
        criteria = (criteria,)
    chosen = set()
    for name in criteria:
        if name not in _CRITERIA:
            raise ValueError(f"unknown criterion {name!r} (expected inertia, silhouette, calinski_harabasz, "
                             f"davies_bouldin, gap)")
        chosen.add(_CRITERIA[name])
    if not chosen:
        raise ValueError("criteria names no criterion (expected some of inertia, silhouette, calinski_harabasz, "
                         "davies_bouldin, gap)")
    if metric == "cosine" and chosen - {"inertia", "silhouette"}:
        raise ValueError("with metric='cosine' the criteria are inertia and silhouette (calinski_harabasz, "
                         "davies_bouldin and gap are Euclidean constructions)")
    chosen.add("inertia")  # the elbow comes with every sweep, as `lloyd choose-k` reports it
    return tuple(name for name in _ORDER if name in chosen)


def _seed(random_state):
    from sklearn.utils import check_random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def choose_k(X, k_range, *, criteria=None, metric="euclidean", init="k-means++", n_init=1, max_iter=300,
             tol=1e-4, algorithm="auto", gap_refs=10, gap_reference="uniform", silhouette_max_exact=20000,
             silhouette_sample_size=20000, random_state=None, n_threads=None, comm=None, verbose=False):
    """A K-Means fit for every K of k_range and the criteria that judge it: `lloyd choose-k`.

        result = lloyd.choose_k(X, range(2, 11), random_state=0)
        result.best["silhouette"], result.table["gap"]; result.plot()

    The numbers are those of `lloyd choose-k --k-min A --k-max B --seed S` with the same options
    on the same rows (bit for bit, at any number of ranks and threads).

    X : array (n_samples, n_features) float32/float64, or CSR (kept sparse with metric="cosine";
        densified for "euclidean", as the command line does).
    k_range : consecutive increasing integers, e.g. range(2, 11) for K = 2..10.
    criteria : iterable of "inertia" (the elbow; always computed), "silhouette",
        "calinski_harabasz", "davies_bouldin", "gap" (the command line's names elbow, ch, db are
        accepted too). None: all five, or inertia and silhouette with metric="cosine".
    metric : "euclidean", or "cosine": spherical K-Means fits (`fit --metric cosine`), their
        Σ(1 - cos) as the inertia and the cosine silhouette.
    init, n_init, max_iter, tol, algorithm : every fit's, as lloyd.KMeans (init one of
        k-means++, k-means||, forgy, random-partition; k-means++ or forgy with cosine).
    gap_refs, gap_reference : B reference data sets, "uniform" (bounding box) or "pca".
    silhouette_max_exact, silhouette_sample_size : the exact silhouette up to that many rows,
        beyond it the silhouette of a sample of silhouette_sample_size rows (with its stderr).
    random_state : int (`--seed`), RandomState or None: fits, references and samples.
    n_threads : threads per rank (None: OMP_NUM_THREADS, else the CPUs / ranks on the node).
    comm : mpi4py communicator or None — each rank passes its own block of rows; the result is
        the same on every rank and no rank gathers the data.
    verbose : a progress line per finished fit on rank 0 (stderr).

    Returns a ChooseKResult: .table (dict of arrays), .best (dict criterion -> K), .plot(ax=None).
    """
    handle = _mpi.handle(comm)

    def prepare():
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
        k_min, k_max = _k_bounds(k_range)
        chosen = _criteria(criteria, metric)
        if init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(_INITS)}, got {init!r}")
        if metric == "cosine" and init not in ("k-means++", "forgy"):
            raise ValueError(f"metric='cosine' supports init 'k-means++' or 'forgy', got {init!r}")
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(_ALGORITHMS)}, got {algorithm!r}")
        if metric == "cosine" and algorithm != "auto":
            raise ValueError("algorithm does not apply with metric='cosine' (spherical fits have one loop)")
        restarts = n_init
        if isinstance(n_init, str) and n_init == "auto":
            restarts = 10 if init in ("forgy", "random-partition") else 1
        restarts = _check_int("n_init", restarts, 1)
        if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if gap_reference not in ("uniform", "pca"):
            raise ValueError(f"gap_reference must be 'uniform' or 'pca', got {gap_reference!r}")
        if n_threads is not None:
            _check_int("n_threads", n_threads, 1)
        options = {
            "k_min": k_min, "k_max": k_max,
            "silhouette": "silhouette" in chosen, "calinski_harabasz": "calinski_harabasz" in chosen,
            "davies_bouldin": "davies_bouldin" in chosen, "gap": "gap" in chosen,
            "gap_refs": _check_int("gap_refs", gap_refs, 1), "gap_reference": gap_reference,
            "silhouette_max_exact": _check_int("silhouette_max_exact", silhouette_max_exact, 0),
            "silhouette_sample_size": _check_int("silhouette_sample_size", silhouette_sample_size, 2),
            "init": init, "n_init": restarts, "max_iter": _check_int("max_iter", max_iter, 1), "tol": float(tol),
            "algorithm": _ALGORITHMS[algorithm], "seed": _seed(random_state),
        }
        rows = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
                           accept_large_sparse=False, ensure_min_samples=0 if comm is not None else 1,
                           force_all_finite=False)  # the engine names the row and column of a NaN
        if sp.issparse(rows) and metric == "euclidean":
            rows = np.ascontiguousarray(rows.toarray())
        return rows, options, chosen

    rows, options, chosen = _mpi.agreed(comm, prepare)
    options["seed"] = _mpi.same_on_every_rank(comm, options["seed"])
    threads = int(n_threads or 0)
    if sp.issparse(rows):
        sweep = _lloyd.choose_k_sparse(rows.data, rows.indices.astype(np.int32, copy=False),
                                       rows.indptr.astype(np.int64, copy=False), rows.shape[1], options, handle,
                                       threads, bool(verbose))
    else:
        sweep = _lloyd.choose_k_dense(rows, options, metric == "cosine", handle, threads, bool(verbose))
    table = {"k": sweep["k"], "n_iter": sweep["n_iter"], "inertia": sweep["inertia"]}
    for name in chosen:
        for column in _COLUMNS[name]:
            table[column] = sweep[column]
    best = {name: int(sweep["best"][name]) for name in chosen}
    return ChooseKResult(table, best, bool(sweep["silhouette_sampled"]), metric)
