"""lloyd.KMeans: the engine as a scikit-learn estimator."""

import numbers
import os

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _lloyd, _mpi

_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
_MODES = ("lloyd", "bisecting", "minibatch", "kmedians", "kmedoids")
_INITS = ("k-means++", "k-means||", "forgy", "random", "random-partition")
# scikit-learn's names for the assignment algorithms, as lloyd runs them: Elkan's bounds are
# one of lloyd's pruned exact algorithms (Hamerly's), "full" is scikit-learn's old "lloyd".
_ALGORITHMS = {"auto": "auto", "lloyd": "lloyd", "full": "lloyd", "elkan": "hamerly",
               "hamerly": "hamerly", "yinyang": "yinyang"}


def _sample_weight(sample_weight, rows):
    """scikit-learn's sample_weight (None, a number, or one per row) as float64, also for a
    rank without rows; the engine checks the values (finite, >= 0, not all 0) over all ranks."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        return np.full(rows.shape[0], float(weights))
    if weights.ndim != 1:
        raise ValueError("Sample weights must be 1D array or scalar")
    if weights.shape[0] != rows.shape[0]:
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(rows.shape[0],)}!")
    return np.ascontiguousarray(weights)


def _call_facts(rows, weights):
    """What every rank's call must share for the engine's collectives to match."""
    return {"X's dtype": rows.dtype.name if rows.shape[0] > 0 else None,
            "X's format (sparse or dense)": "sparse" if sp.issparse(rows) else "dense",
            "sample_weight (given or None)": weights is not None}


def _take_common_dtype(comm, rows):
    """A rank without rows (np.zeros((0, d)) is float64) takes the dtype of the ranks with rows."""
    dtypes = [d for d in comm.allgather(rows.dtype.name if rows.shape[0] > 0 else None) if d is not None]
    if dtypes and rows.dtype.name != dtypes[0]:
        return rows.astype(dtypes[0]) if sp.issparse(rows) else np.ascontiguousarray(rows, dtype=dtypes[0])
    return rows


def _path(path):
    """A file path as the engine takes it: str, pathlib.Path or bytes (os.fspath), no NUL byte
    (the C library would stop there and use another file than the one named)."""
    path = os.fsdecode(os.fspath(path))
    if "\0" in path:
        raise ValueError(f"path {path!r} contains a NUL byte")
    return path


def _digest(array):
    """An array's shape, dtype and bytes, shortly (to compare the ranks' initial centres)."""
    import hashlib
    return (array.shape, array.dtype.name, hashlib.sha256(array.tobytes()).hexdigest()[:16])


class KMeans(TransformerMixin, ClusterMixin, BaseEstimator):
    """K-Means clustering on lloyd's engine: scikit-learn's interface, exact sums.

    In process (``comm=None``) it fits the array it is given with ``n_threads`` threads.
    With ``comm`` (an mpi4py communicator) every rank passes its own block of rows (blocks in
    rank order make up the data set); the fit is distributed, no rank gathers the data, and the
    centres are the same bits as ``lloyd fit`` on the concatenated rows, and as any other
    number of ranks or threads. ``labels_``, ``predict`` and ``transform`` are then the
    calling rank's rows; ``inertia_`` and ``score`` are over all ranks.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "k-means||", "random", "forgy", "random-partition"}, array of shape
        (n_clusters, n_features) or callable(X, n_clusters, random_state), default="k-means++"
    n_init : int or "auto", default=1
        Seeded restarts; the lowest inertia wins ("auto": 1 for k-means++ and k-means||,
        else 10, as scikit-learn's "auto").
    max_iter : int, default=300
    tol : float or None, default=None
        Stop when the squared centre shift is at most tol × the mean feature variance, as
        scikit-learn's. None: the mode's default, as `lloyd fit`'s — 1e-4, and 0 for mode
        "minibatch" (scikit-learn's MiniBatchKMeans tests no shift unless asked).
    algorithm : {"auto", "lloyd", "elkan", "hamerly", "yinyang"}, default="auto"
        How rows are assigned; never changes the result, only the time.
    mode : {"lloyd", "bisecting", "minibatch", "kmedians", "kmedoids"}, default="lloyd"
    metric : {"euclidean", "cosine", "manhattan"}, default="euclidean"
        "cosine" with mode "lloyd": spherical K-Means (dense or sparse CSR rows); with mode
        "kmedoids" any of the three is the medoids' distance.
    random_state : int, RandomState or None
        An int is lloyd's --seed: the same int gives the same bits as the command line.
    n_threads : int or None
        Threads per rank (None: OMP_NUM_THREADS, else the CPUs / ranks on the node).
    comm : mpi4py communicator or None
    verbose : int, default=0
        Progress lines on rank 0 (stderr).
    batch_size, max_no_improvement, reassignment_ratio, init_size :
        mode="minibatch", as scikit-learn's MiniBatchKMeans.
    bisecting_strategy : {"biggest_inertia", "largest_cluster"}
        mode="bisecting", as scikit-learn's BisectingKMeans.
    medoid_method : {"alternate", "pam"}, sample : int or None
        mode="kmedoids": the medoid update, and CLARA's sample of rows (None: all rows).
    oversampling : float or None, init_rounds : int
        init="k-means||": candidates per round (None: 2k) and rounds.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init=1, max_iter=300, tol=None,
                 algorithm="auto", mode="lloyd", metric="euclidean", random_state=None,
                 n_threads=None, comm=None, verbose=0, batch_size=1024, max_no_improvement=10,
                 reassignment_ratio=0.01, init_size=None, bisecting_strategy="biggest_inertia",
                 medoid_method="alternate", sample=None, oversampling=None, init_rounds=5):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.algorithm = algorithm
        self.mode = mode
        self.metric = metric
        self.random_state = random_state
        self.n_threads = n_threads
        self.comm = comm
        self.verbose = verbose
        self.batch_size = batch_size
        self.max_no_improvement = max_no_improvement
        self.reassignment_ratio = reassignment_ratio
        self.init_size = init_size
        self.bisecting_strategy = bisecting_strategy
        self.medoid_method = medoid_method
        self.sample = sample
        self.oversampling = oversampling
        self.init_rounds = init_rounds

    # ------------------------------------------------------------------ checks

    def _check_params(self):
        # The engine's counts are C++ int (k, iterations, restarts, rounds, threads) or int64
        # (rows): a larger Python int is refused here, not left to fail a cast in the binding.
        def positive_int(name, value, minimum=1, maximum=_INT32_MAX):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not minimum <= value <= maximum:
                raise ValueError(f"{name} must be an integer between {minimum} and {maximum}, got {value!r}")

        positive_int("n_clusters", self.n_clusters)
        positive_int("max_iter", self.max_iter)
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            positive_int("n_init", self.n_init)
        if self.tol is not None and (not isinstance(self.tol, numbers.Real) or not self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0 or None, got {self.tol!r}")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {self.mode!r}")
        if self.algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(_ALGORITHMS)}, got {self.algorithm!r}")
        # k-medians is L1 by definition: "euclidean" (the default) names no other distance there.
        metrics = {"lloyd": ("euclidean", "cosine"), "kmedoids": ("euclidean", "manhattan", "cosine"),
                   "kmedians": ("euclidean", "manhattan")}.get(self.mode, ("euclidean",))
        if self.metric not in metrics:
            raise ValueError(f"metric={self.metric!r} does not apply to mode={self.mode!r}: "
                             f"expected one of {', '.join(metrics)}")
        if isinstance(self.init, str) and self.init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(_INITS)}, an array or a callable, "
                             f"got {self.init!r}")
        if not isinstance(self.init, (str, list, tuple)) and not callable(self.init) and not hasattr(self.init, "__array__"):
            raise TypeError(f"init must be a string, an array or a callable, not {type(self.init).__name__}")
        if self.mode in ("bisecting", "minibatch", "kmedoids") and not isinstance(self.init, str):
            raise ValueError(f"mode={self.mode!r} seeds itself: init must be a method name")
        positive_int("batch_size", self.batch_size, maximum=_INT64_MAX)
        positive_int("max_no_improvement", self.max_no_improvement, 0)
        positive_int("init_rounds", self.init_rounds)
        if self.init_size is not None:
            positive_int("init_size", self.init_size, maximum=_INT64_MAX)
        if self.sample is not None:
            positive_int("sample", self.sample, maximum=_INT64_MAX)
        if not isinstance(self.reassignment_ratio, numbers.Real) or not 0 <= self.reassignment_ratio <= 1:
            raise ValueError(f"reassignment_ratio must be between 0 and 1, got {self.reassignment_ratio!r}")
        if self.oversampling is not None and not (isinstance(self.oversampling, numbers.Real)
                                                  and self.oversampling > 0 and np.isfinite(self.oversampling)):
            raise ValueError(f"oversampling must be a finite number > 0 or None, got {self.oversampling!r}")
        if self.n_threads is not None:
            positive_int("n_threads", self.n_threads)
        if self.bisecting_strategy not in ("biggest_inertia", "largest_cluster"):
            raise ValueError("bisecting_strategy must be 'biggest_inertia' or 'largest_cluster', "
                             f"got {self.bisecting_strategy!r}")
        if self.medoid_method not in ("alternate", "pam"):
            raise ValueError(f"medoid_method must be 'alternate' or 'pam', got {self.medoid_method!r}")

    def _validate_rows(self, X, reset):
        """X as the engine takes it: C order float32/float64, or CSR for a cosine fit."""
        distributed = self.comm is not None
        X = self._validate_data(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
                                reset=reset, accept_large_sparse=False,
                                ensure_min_samples=0 if distributed else 1)
        if sp.issparse(X):
            # scipy keeps what it is handed: column indices beyond the width, offsets out of
            # order. toarray() and the engine would read and write by them out of bounds.
            try:
                X.check_format(full_check=True)
            except (ValueError, IndexError) as error:
                raise ValueError(f"X is not a valid CSR matrix: {error}") from None
        if sp.issparse(X) and not self._sparse_metric():
            # Euclidean modes work on dense rows, as `lloyd fit` densifies a CSR input.
            X = np.ascontiguousarray(X.toarray())
        return X

    def _sparse_metric(self):
        return self.metric == "cosine" and self.mode == "lloyd"

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool):
            if not 0 <= self.random_state < 2**64:  # lloyd's --seed is a 64-bit unsigned integer
                raise ValueError(f"random_state must be between 0 and 2**64 - 1, got {self.random_state}")
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _tol(self):
        if self.tol is not None:
            return float(self.tol)
        return 0.0 if self.mode == "minibatch" else 1e-4

    def _settings(self, init_name, n_init):
        return {
            "mode": self.mode, "k": int(self.n_clusters), "init": init_name, "n_init": int(n_init),
            "max_iter": int(self.max_iter), "tol": self._tol(), "seed": self._seed_value,
            "oversampling": float(self.oversampling or 0), "init_rounds": int(self.init_rounds),
            "algorithm": _ALGORITHMS[self.algorithm],
            "cosine": self.metric == "cosine" and self.mode == "lloyd",
            "bisecting_strategy": self.bisecting_strategy,
            "batch_size": int(self.batch_size), "max_no_improvement": int(self.max_no_improvement),
            "reassignment_ratio": float(self.reassignment_ratio), "init_size": int(self.init_size or 0),
            "medoid_method": self.medoid_method,
            "distance": self.metric if self.mode == "kmedoids" else "euclidean",
            "sample": int(self.sample or 0),
        }

    # ------------------------------------------------------------------ fit

    def fit(self, X, y=None, sample_weight=None):
        """Fits the model to X (this rank's rows with comm)."""
        comm = self.comm
        handle = _mpi.handle(comm)

        def prepare():
            self._check_params()
            rows = self._validate_rows(X, reset=True)
            return rows, _sample_weight(sample_weight, rows)

        rows, weights = _mpi.agreed(comm, prepare)
        rows = self._same_call_on_every_rank(rows, weights)
        self._seed_value = _mpi.same_on_every_rank(comm, self._seed())
        init, init_name, n_init = self.init, self.init, self.n_init
        if isinstance(n_init, str):  # "auto", as scikit-learn 1.4: one run of the greedy seedings
            n_init = 1 if init in ("k-means++", "k-means||") else 10

        def initial_centres():
            centres = init
            if callable(centres):
                centres = centres(rows, self.n_clusters, check_random_state(self._seed_value))
                if isinstance(centres, str) or centres is None or sp.issparse(centres):
                    raise TypeError("init, a callable, must return an array of shape (n_clusters, n_features), "
                                    f"not {type(centres).__name__}")
            return np.ascontiguousarray(centres, dtype=rows.dtype)

        if not isinstance(init, str):
            init = _mpi.agreed(comm, initial_centres)
            _mpi.same_everywhere(comm, {"init": _digest(init)})
            init_name, n_init = "array", 1
        centres = None if isinstance(init, str) else init
        settings = self._settings(init_name, n_init)
        threads = int(self.n_threads or 0)
        if sp.issparse(rows):
            state = _lloyd.fit_sparse(rows.data, rows.indices.astype(np.int32, copy=False),
                                      rows.indptr.astype(np.int64, copy=False), rows.shape[1], settings,
                                      centres, weights, handle, threads, bool(self.verbose))
        else:
            state = _lloyd.fit_dense(rows, settings, centres, weights, handle, threads, bool(self.verbose))
        self._set_state(state)
        return self

    # Parameters that may differ between ranks: rank 0's seed is every rank's, threads are per
    # rank, only rank 0 prints, and a callable init is compared by the centres it returns.
    _PER_RANK_PARAMS = ("comm", "random_state", "n_threads", "verbose", "init")

    def _same_call_on_every_rank(self, rows, weights):
        """Refuses, on every rank, a fit whose ranks differ in parameters, dtype, sparse or dense
        rows, or sample weights; a rank without rows takes the others' dtype."""
        if self.comm is None:
            return rows
        params = {name: value for name, value in self.get_params(deep=False).items()
                  if name not in self._PER_RANK_PARAMS}
        params["init"] = self.init if isinstance(self.init, str) else "a callable" if callable(self.init) else "an array"
        _mpi.same_everywhere(self.comm, {**params, **_call_facts(rows, weights)})
        return _take_common_dtype(self.comm, rows)

    def _set_state(self, state):
        """The fitted attributes from the engine's model (a fit or a model file)."""
        self._state = state
        record = state["record"]
        centres = state["centroids"]
        if state["scaling"] is not None:  # a model fitted with --standardize: centres in data units
            scaling = state["scaling"]
            centres = (centres * scaling["scale"] + scaling["mean"]).astype(centres.dtype)
        self.cluster_centers_ = centres
        self.labels_ = state["labels"]
        self.inertia_ = float(record["inertia"])
        self.n_iter_ = int(record["n_iter"])
        self.converged_ = bool(record["converged"])
        self.n_features_in_ = centres.shape[1]
        self._n_features_out = centres.shape[0]
        if state["algorithm"] == "kmedoids":
            self.medoid_indices_ = state["medoid_indices"]
        if state["algorithm"] == "minibatch":
            self.n_steps_ = int(record["n_steps"])
            self.counts_ = state["counts"]
        self.inertia_history_ = state["history"]["inertia"]
        # Seconds per phase of the fit on this rank (seeding "init", "assign", "reduce", "update").
        self.phases_ = dict(state.get("phases", {}))

    # ------------------------------------------------------------------ use

    def _rows(self, X):
        check_is_fitted(self, "_state")
        rows = _mpi.agreed(self.comm, lambda: self._validate_rows(X, reset=False))
        # The engine labels rows in the model's precision, as `lloyd predict` reads them
        # (float32 rows and a float64 model included: the engine takes one dtype per call).
        model_dtype = np.asarray(self._state["centroids"]).dtype
        if rows.dtype != model_dtype and model_dtype in (np.float32, np.float64):
            rows = rows.astype(model_dtype) if sp.issparse(rows) else np.ascontiguousarray(rows, dtype=model_dtype)
        return rows

    def _predict(self, X, sample_weight=None, distances=False):
        rows = self._rows(X)
        weights = _mpi.agreed(self.comm, lambda: _sample_weight(sample_weight, rows))
        _mpi.same_everywhere(self.comm, _call_facts(rows, weights))
        handle = _mpi.handle(self.comm)
        if sp.issparse(rows):
            return _lloyd.predict_sparse(self._state, rows.data, rows.indices.astype(np.int32, copy=False),
                                         rows.indptr.astype(np.int64, copy=False), rows.shape[1], weights,
                                         handle, distances)
        return _lloyd.predict_dense(self._state, rows, weights, handle, distances)

    def predict(self, X, sample_weight=None):
        """The cluster of each row of X (this rank's rows with comm)."""
        return self._predict(X, sample_weight)[0]

    def score(self, X, y=None, sample_weight=None):
        """Minus the inertia of X (over all ranks with comm), as scikit-learn's score."""
        return -self._predict(X, sample_weight)[1]

    def distance_to_centre(self, X):
        """Each row's distance to its own centre under the model's metric (anomaly scores)."""
        return self._predict(X, distances=True)[2]

    def transform(self, X):
        """Distances of each row to every centre (n_samples, n_clusters), in X's precision."""
        dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
        rows = self._rows(X)
        _mpi.same_everywhere(self.comm, _call_facts(rows, None))
        handle = _mpi.handle(self.comm)
        if sp.issparse(rows):
            out = _lloyd.transform_sparse(self._state, rows.data, rows.indices.astype(np.int32, copy=False),
                                          rows.indptr.astype(np.int64, copy=False), rows.shape[1], handle)
        else:
            out = _lloyd.transform_dense(self._state, rows, handle)
        return out.astype(dtype, copy=False)

    def fit_transform(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    # ------------------------------------------------------------------ files and other tools

    def save(self, path, force=False):
        """Writes the model file `lloyd predict` and the other commands read (collective)."""
        check_is_fitted(self, "_state")
        _lloyd.save_model(self._state, _path(path), bool(force), _mpi.handle(self.comm))

    def to_sklearn(self):
        """A fitted sklearn.cluster.KMeans with the same centres (and labels, inertia, n_iter).

        scikit-learn labels rows by the nearest Euclidean centre: the same labels as this model
        for modes lloyd and minibatch; a cosine model's centres are unit vectors (label unit
        rows with it); bisecting, k-medians and k-medoids models label by their tree or their
        own distance, which the nearest Euclidean centre need not match.
        """
        from sklearn.cluster import KMeans as SklearnKMeans

        check_is_fitted(self, "_state")
        centres = np.ascontiguousarray(self.cluster_centers_)
        fitted = SklearnKMeans(n_clusters=centres.shape[0], init=centres, n_init=1,
                               max_iter=int(self._state["record"]["max_iter"]) or 300,
                               tol=float(self._state["record"]["tol"]))
        fitted.cluster_centers_ = centres.copy()
        fitted.labels_ = np.asarray(self.labels_, dtype=np.int32).copy()
        fitted.inertia_ = self.inertia_
        fitted.n_iter_ = self.n_iter_
        fitted.n_features_in_ = centres.shape[1]
        fitted._n_features_out = centres.shape[0]
        fitted._n_threads = int(self.n_threads or 1)
        if hasattr(self, "feature_names_in_"):
            fitted.feature_names_in_ = self.feature_names_in_
        return fitted

    def _more_tags(self):
        return {
            "preserves_dtype": [np.float64, np.float32],
            "_xfail_checks": {
                "check_sample_weights_invariance":
                    "zero sample_weight is not equivalent to removing samples (as scikit-learn's KMeans)",
            },
        }


def load(path, comm=None, labels=True):
    """A fitted KMeans from a model file written by `lloyd fit` or KMeans.save.

    Every mode the command line writes loads (a bisecting model keeps its tree, a standardized
    one its scaling). With comm, each rank gets its block of the model's labels as labels_.
    """
    state = _lloyd.load_model(_path(path), bool(labels), _mpi.handle(comm))
    record = state["record"]
    algorithm = state["algorithm"]
    metric = "cosine" if state["cosine"] else state["distance"] if algorithm == "kmedoids" else "euclidean"
    if algorithm == "kmedians":
        metric = "manhattan"
    init = record["init"] if record["init"] in _INITS else "k-means++"
    estimator = KMeans(n_clusters=state["centroids"].shape[0], init=init, n_init=max(1, int(record["n_init"])),
                       max_iter=max(1, int(record["max_iter"])), tol=float(record["tol"]),
                       mode=algorithm, metric=metric, random_state=int(record["seed"]) & 0x7FFFFFFFFFFFFFFF,
                       comm=comm, bisecting_strategy=record["bisecting_strategy"].replace("-", "_"),
                       medoid_method=record["medoid_method"])
    estimator._set_state(state)
    return estimator
