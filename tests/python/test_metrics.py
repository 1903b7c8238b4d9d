"""lloyd.metrics: scikit-learn's silhouette, Calinski-Harabasz and Davies-Bouldin scores on the
committed fixtures and on random data (rel 1e-12), the same bits as `lloyd evaluate`, and bad
input raising ValueError with one line."""

import json

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import metrics as sk

import lloyd
from mpi_analysis import launch
from conftest import DATA, read

SCORES = [("silhouette", lloyd.metrics.silhouette_score, sk.silhouette_score),
          ("calinski_harabasz", lloyd.metrics.calinski_harabasz_score, sk.calinski_harabasz_score),
          ("davies_bouldin", lloyd.metrics.davies_bouldin_score, sk.davies_bouldin_score)]


def fixture(name):
    path = DATA / name
    with h5py.File(path, "r") as f:
        expected = dict(f["/expected"].attrs)
        samples = f["/expected/silhouette_samples"][()] if "silhouette_samples" in f["/expected"] else None
        if isinstance(f["/X"], h5py.Group):
            g = f["/X"]
            X = sp.csr_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=tuple(g.attrs["shape"]))
        else:
            X = f["/X"][()]
    return path, X, read(path, "/labels"), expected, samples


@pytest.mark.parametrize("name", ["metrics_blobs_f64.h5", "metrics_gaps_f64.h5", "metrics_sparse_labels.h5"])
@pytest.mark.parametrize("score", SCORES, ids=[s[0] for s in SCORES])
def test_fixture_scores_are_scikit_learns(name, score):
    key, ours, theirs = score
    _, X, labels, expected, _ = fixture(name)
    value = ours(X, labels)
    assert value == pytest.approx(expected[key], rel=1e-12)
    assert value == pytest.approx(theirs(X, labels), rel=1e-12)


def test_float32_rows_are_scored_in_double():
    _, X, labels, expected, _ = fixture("metrics_blobs_f32.h5")
    assert X.dtype == np.float32
    wide = X.astype(np.float64)
    for key, ours, theirs in SCORES:
        assert ours(X, labels) == pytest.approx(theirs(wide, labels), rel=1e-12), key
        assert ours(X, labels) == pytest.approx(expected[key], rel=1e-5), key  # scikit-learn's float32 sums


@pytest.mark.parametrize("name", ["cosine_dense.h5", "cosine_sparse.h5"])
def test_cosine_silhouette_dense_and_sparse(name):
    _, X, labels, expected, samples = fixture(name)
    assert lloyd.metrics.silhouette_score(X, labels, metric="cosine") == pytest.approx(expected["silhouette"],
                                                                                       rel=1e-12)
    np.testing.assert_allclose(lloyd.metrics.silhouette_samples(X, labels, metric="cosine"), samples,
                               rtol=0, atol=1e-12)
    if sp.issparse(X):  # float32 CSR too: its rows are scaled to unit norm in float32, as a float32 fit's
        assert lloyd.metrics.silhouette_score(X.astype(np.float32), labels, metric="cosine") == \
            pytest.approx(sk.silhouette_score(X.astype(np.float32).astype(np.float64), labels, metric="cosine"),
                          rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_data(seed):
    rng = np.random.default_rng(seed)
    n, d, k = 300 + 37 * seed, 2 + 3 * seed, 3 + 2 * seed
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d) + rng.integers(0, 5, size=(n, 1))
    labels = rng.integers(0, k, size=n)
    for key, ours, theirs in SCORES:
        assert ours(X, labels) == pytest.approx(theirs(X, labels), rel=1e-12), key
    assert lloyd.metrics.silhouette_score(X, labels, metric="cosine") == \
        pytest.approx(sk.silhouette_score(X, labels, metric="cosine"), rel=1e-12)
    np.testing.assert_allclose(lloyd.metrics.silhouette_samples(X, labels), sk.silhouette_samples(X, labels),
                               rtol=0, atol=1e-12)
    # Any layout and any label values: Fortran order, strings, sparse euclidean rows.
    names = np.array(["c%d" % (7 * v) for v in labels])
    assert lloyd.metrics.silhouette_score(np.asfortranarray(X), names) == lloyd.metrics.silhouette_score(X, labels)
    assert lloyd.metrics.davies_bouldin_score(sp.csr_matrix(X), labels) == \
        lloyd.metrics.davies_bouldin_score(X, labels)


def evaluate_json(cli, path, *options):
    done = cli("evaluate", "--input", f"{path}:/X", "--labels", f"{path}:/labels", "--json", *options)
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["metrics_blobs_f64.h5", "metrics_blobs_f32.h5", "metrics_sparse_labels.h5"])
def test_same_bits_as_lloyd_evaluate(cli, name):
    path, X, labels, _, _ = fixture(name)
    scores = evaluate_json(cli, path)
    for key, ours, _ in SCORES:
        assert ours(X, labels) == scores[key], key
    sampled = evaluate_json(cli, path, "--metrics", "silhouette", "--sample-size", 200, "--seed", 5)
    assert lloyd.metrics.silhouette_score(X, labels, sample_size=200, random_state=5) == sampled["silhouette"]


def test_cosine_same_bits_as_lloyd_evaluate(cli):
    path, X, labels, _, _ = fixture("cosine_sparse.h5")
    scores = evaluate_json(cli, path, "--metric", "cosine")
    assert lloyd.metrics.silhouette_score(X, labels, metric="cosine") == scores["silhouette"]
    sampled = evaluate_json(cli, path, "--metric", "cosine", "--sample-size", 100, "--seed", 9)
    assert lloyd.metrics.silhouette_score(X, labels, metric="cosine", sample_size=100, random_state=9) == \
        sampled["silhouette"]


def test_a_sample_as_large_as_the_data_is_the_exact_score():
    _, X, labels, expected, _ = fixture("metrics_blobs_f64.h5")
    assert lloyd.metrics.silhouette_score(X, labels, sample_size=10_000, random_state=0) == \
        lloyd.metrics.silhouette_score(X, labels)
    other = lloyd.metrics.silhouette_score(X, labels, sample_size=300, random_state=1)
    assert other != lloyd.metrics.silhouette_score(X, labels, sample_size=300, random_state=2)
    assert abs(other - expected["silhouette"]) < 0.05


X5 = np.arange(20, dtype=np.float64).reshape(10, 2)


@pytest.mark.parametrize("call,message", [
    (lambda: lloyd.metrics.silhouette_score(X5, np.zeros(10)), "Number of labels is 1. Valid values are 2 to n_samples - 1"),
    (lambda: lloyd.metrics.calinski_harabasz_score(X5, np.arange(10)), "Number of labels is 10. Valid values"),
    (lambda: lloyd.metrics.davies_bouldin_score(X5, np.arange(9)), "inconsistent numbers of samples: [10, 9]"),
    (lambda: lloyd.metrics.silhouette_score(X5, np.arange(10) % 2, metric="manhattan"), "metric must be one of"),
    (lambda: lloyd.metrics.silhouette_score(X5, np.arange(10) % 2, sample_size=1), "sample_size must be an integer >= 2"),
    (lambda: lloyd.metrics.silhouette_score(np.where(X5 == 7, np.nan, X5), np.arange(10) % 2), "row 3"),
    (lambda: lloyd.metrics.silhouette_score(X5[:, 0], np.arange(10) % 2), "Expected 2D array"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
    assert "\n" not in str(error.value).strip() or "Expected 2D array" in message


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_with_comm_every_rank_its_rows(ranks):
    assert launch(ranks, "metrics").count("OK") == ranks


@pytest.mark.parametrize("ranks", [2, 3])
def test_bad_input_on_one_rank_fails_every_rank(ranks):
    assert launch(ranks, "bad").count("OK") == ranks
