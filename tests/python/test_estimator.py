"""lloyd.KMeans as a scikit-learn estimator: the same answers as sklearn.cluster.KMeans from
the same initial centres, scikit-learn's conventions (dtypes, layouts, pipelines, grid search,
pickling), and bad input as a Python exception with lloyd's one-line message."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lloyd


def sklearn_fit(X, init, **kwargs):
    return SklearnKMeans(n_clusters=len(init), init=init, n_init=1, algorithm="lloyd", **kwargs).fit(X)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_same_answer_as_scikit_learn_from_the_same_centres(blobs, dtype, rtol):
    _, X, init = blobs
    X, init = X.astype(dtype), init.astype(dtype)
    ours = lloyd.KMeans(len(init), init=init, tol=0).fit(X)
    theirs = sklearn_fit(X, init, tol=0)
    assert ours.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=rtol * 10, atol=rtol)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=rtol)
    np.testing.assert_array_equal(ours.predict(X[:50]), theirs.predict(X[:50]))


def test_sample_weight_as_scikit_learn(blobs):
    _, X, init = blobs
    weights = np.random.default_rng(0).integers(0, 4, len(X)).astype(float)
    ours = lloyd.KMeans(len(init), init=init, tol=0).fit(X, sample_weight=weights)
    theirs = sklearn_fit(X, init, tol=0).fit(X, sample_weight=weights)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-12)
    assert ours.score(X, sample_weight=weights) == pytest.approx(theirs.score(X, sample_weight=weights), rel=1e-12)


def test_layouts_and_types_give_the_same_bits(blobs):
    _, X, _ = blobs
    reference = lloyd.KMeans(6, random_state=5).fit(X)
    for variant in (np.asfortranarray(X), X.tolist(), X[::1, :], np.array(X, order="C", copy=True)):
        other = lloyd.KMeans(6, random_state=5).fit(variant)
        np.testing.assert_array_equal(other.cluster_centers_, reference.cluster_centers_)
    # Integer data is clustered as float64, as scikit-learn does.
    integers = np.round(X * 10).astype(np.int16)
    fitted = lloyd.KMeans(6, random_state=5).fit(integers)
    assert fitted.cluster_centers_.dtype == np.float64


def test_threads_do_not_change_the_bits(blobs):
    _, X, _ = blobs
    one = lloyd.KMeans(6, random_state=2, n_threads=1).fit(X)
    two = lloyd.KMeans(6, random_state=2, n_threads=2).fit(X)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)


def test_sparse_rows_cosine_equal_dense(blobs):
    _, X, _ = blobs
    dense = lloyd.KMeans(6, metric="cosine", random_state=1).fit(X)
    sparse = lloyd.KMeans(6, metric="cosine", random_state=1).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(dense.cluster_centers_, sparse.cluster_centers_)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), dense.labels_)


def test_pipeline_grid_search_and_pickle(blobs):
    _, X, _ = blobs
    pipeline = make_pipeline(StandardScaler(), lloyd.KMeans(random_state=0))
    search = GridSearchCV(pipeline, {"kmeans__n_clusters": [2, 4, 6]}, cv=3).fit(X)
    assert search.best_params_["kmeans__n_clusters"] == 6  # the highest score (−inertia) of the three
    fitted = lloyd.KMeans(6, random_state=3, mode="bisecting").fit(X)
    copy = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(copy.predict(X), fitted.predict(X))


def test_to_sklearn_predicts_as_lloyd(blobs):
    _, X, _ = blobs
    fitted = lloyd.KMeans(6, random_state=4).fit(X)
    converted = fitted.to_sklearn()
    assert isinstance(converted, SklearnKMeans)
    np.testing.assert_array_equal(converted.cluster_centers_, fitted.cluster_centers_)
    np.testing.assert_array_equal(converted.predict(X), fitted.predict(X))
    np.testing.assert_allclose(converted.transform(X), fitted.transform(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make_bad,message", [
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), "NaN"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), "infinity"),
    (lambda X: X[:, 0], "2D array"),
    (lambda X: X[:3], "k = 6 must be between 1 and the number of rows of X \\(3\\)"),
    (lambda X: np.full_like(X, 1e300), "beyond"),
])
def test_bad_input_raises_one_clear_line(blobs, make_bad, message):
    _, X, _ = blobs
    with pytest.raises(ValueError, match=message):
        lloyd.KMeans(6, random_state=0).fit(make_bad(X))


def test_bad_settings_raise_value_errors(blobs):
    _, X, _ = blobs
    for params, message in ((dict(n_clusters=0), "n_clusters"), (dict(mode="spectral"), "mode"),
                            (dict(metric="cosine", mode="kmedians"), "metric"), (dict(algorithm="fast"), "algorithm"),
                            (dict(init=np.zeros((5, 5))), "init"), (dict(n_threads=100000), "threads"),
                            (dict(init="bogus"), "init")):
        with pytest.raises(ValueError, match=message):
            lloyd.KMeans(**{"n_clusters": 6, **params}).fit(X)
    with pytest.raises(ValueError, match="sample_weight|weight"):
        lloyd.KMeans(6).fit(X, sample_weight=-np.ones(len(X)))
    fitted = lloyd.KMeans(6, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :3])


def test_ctrl_c_stops_a_long_fit(tmp_path):
    """A KeyboardInterrupt (SIGINT: Ctrl-C in a notebook) ends a fit within an iteration."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import LAUNCH_ENV

    script = tmp_path / "long_fit.py"
    script.write_text(
        "import numpy as np, lloyd, sys\n"
        "X = np.random.default_rng(0).normal(size=(200000, 8))\n"
        "print('fitting', flush=True)\n"
        "try:\n"
        "    lloyd.KMeans(256, init='random', tol=0, max_iter=100000, n_threads=1).fit(X)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(3)\n")
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             env={**LAUNCH_ENV, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.stdout.readline().strip() == "fitting"
    time.sleep(2)
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 3 and "interrupted" in out
    assert time.monotonic() - started < 10
