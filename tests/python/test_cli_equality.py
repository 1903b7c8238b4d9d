"""lloyd.KMeans gives the same bits as `lloyd fit` on the committed fixtures, in every mode;
models written by one are read by the other (KMeans.save -> `lloyd predict`, `lloyd fit` ->
lloyd.load)."""

import h5py
import numpy as np
import pytest

import lloyd
from conftest import DATA, read

# (name, input file:dataset, `lloyd fit` options, lloyd.KMeans parameters)
CASES = [
    ("lloyd_auto", "lloyd_blobs_f64.h5", ["--k", 6], dict(n_clusters=6)),
    ("hamerly", "lloyd_blobs_f64.h5", ["--k", 6, "--algorithm", "hamerly"], dict(n_clusters=6, algorithm="hamerly")),
    ("yinyang_f32", "lloyd_blobs_f32.h5", ["--k", 6, "--algorithm", "yinyang"], dict(n_clusters=6, algorithm="yinyang")),
    ("kpar_restarts", "lloyd_blobs_f32.h5", ["--k", 6, "--init", "k-means||", "--n-init", 3],
     dict(n_clusters=6, init="k-means||", n_init=3)),
    ("forgy", "lloyd_blobs_f64.h5", ["--k", 6, "--init", "forgy", "--n-init", 2], dict(n_clusters=6, init="forgy", n_init=2)),
    ("random_partition", "lloyd_blobs_f64.h5", ["--k", 6, "--init", "random-partition"],
     dict(n_clusters=6, init="random-partition")),
    ("cosine", "lloyd_blobs_f64.h5", ["--k", 6, "--metric", "cosine"], dict(n_clusters=6, metric="cosine")),
    ("bisecting", "bisecting_blobs.h5", ["--k", 10, "--mode", "bisecting"], dict(n_clusters=10, mode="bisecting")),
    ("bisecting_largest", "bisecting_iris.h5", ["--k", 5, "--mode", "bisecting", "--bisecting-strategy", "largest-cluster"],
     dict(n_clusters=5, mode="bisecting", bisecting_strategy="largest_cluster")),
    ("minibatch", "variants_minibatch.h5", ["--k", 4, "--mode", "minibatch", "--batch-size", 64],
     dict(n_clusters=4, mode="minibatch", batch_size=64)),
    ("kmedians", "variants_kmedians.h5", ["--k", 4, "--mode", "kmedians"], dict(n_clusters=4, mode="kmedians")),
    ("kmedoids", "variants_kmedoids.h5", ["--k", 3, "--mode", "kmedoids"], dict(n_clusters=3, mode="kmedoids")),
    ("kmedoids_pam_l1", "variants_kmedoids.h5", ["--k", 3, "--mode", "kmedoids", "--medoid-method", "pam", "--distance", "manhattan"],
     dict(n_clusters=3, mode="kmedoids", medoid_method="pam", metric="manhattan")),
    ("kmedoids_clara_cosine", "variants_kmedoids.h5", ["--k", 3, "--mode", "kmedoids", "--sample", 100, "--distance", "cosine"],
     dict(n_clusters=3, mode="kmedoids", sample=100, metric="cosine")),
]


def fit_both(cli, tmp_path, name, data_file, options, params, seed=7, extra_cli=(), **fit_args):
    path = DATA / data_file
    model = tmp_path / f"{name}.h5"
    cli("fit", "--input", f"{path}:/X", "--seed", seed, "--output", model, *options, *extra_cli)
    X = read(path, "/X")
    estimator = lloyd.KMeans(random_state=seed, **params).fit(X, **fit_args)
    return model, X, estimator


def assert_same_model(model, estimator):
    with h5py.File(model, "r") as f:
        centroids = f["/centroids"][()]
        labels = f["/labels"][()] if "/labels" in f else None
        inertia = f.attrs["inertia"]
        n_iter = f.attrs["n_iter"]
    assert estimator.cluster_centers_.dtype == centroids.dtype
    np.testing.assert_array_equal(estimator.cluster_centers_, centroids)  # bit for bit
    if labels is not None:
        np.testing.assert_array_equal(estimator.labels_, labels)
    assert estimator.inertia_ == inertia
    assert estimator.n_iter_ == n_iter


@pytest.mark.parametrize("name,data_file,options,params", CASES, ids=[c[0] for c in CASES])
def test_fit_is_the_command_line_fit(cli, tmp_path, name, data_file, options, params):
    model, _, estimator = fit_both(cli, tmp_path, name, data_file, options, params)
    assert_same_model(model, estimator)


def test_explicit_initial_centres(cli, tmp_path, blobs):
    path, X, init = blobs
    model, _, estimator = fit_both(cli, tmp_path, "init", path.name, ["--init", f"{path}:/init"], dict(n_clusters=6, init=init))
    assert_same_model(model, estimator)


def test_sample_weight(cli, tmp_path):
    path = DATA / "weights_real.h5"
    weights = read(path, "/w")
    for mode, k in (("lloyd", 5), ("bisecting", 5), ("minibatch", 4), ("kmedians", 4)):
        model, _, estimator = fit_both(cli, tmp_path, f"w_{mode}", path.name, ["--k", k, "--mode", mode],
                                       dict(n_clusters=k, mode=mode), extra_cli=["--sample-weight", f"{path}:/w"],
                                       sample_weight=weights)
        assert_same_model(model, estimator)


def test_sparse_cosine_documents(cli, tmp_path):
    corpus = tmp_path / "tfidf.h5"
    cli("tfidf", "--input", DATA / "tfidf_corpus.txt", "--output", corpus)
    model = tmp_path / "docs.h5"
    cli("fit", "--input", f"{corpus}:/X", "--k", 6, "--metric", "cosine", "--n-init", 2, "--seed", 3, "--output", model)
    X, _ = lloyd.read_tfidf(corpus)
    estimator = lloyd.KMeans(6, metric="cosine", n_init=2, random_state=3).fit(X)
    assert_same_model(model, estimator)


@pytest.mark.parametrize("name,data_file,options,params", [c for c in CASES if c[0] in
                         ("lloyd_auto", "cosine", "bisecting", "kmedians", "kmedoids_pam_l1", "minibatch")],
                         ids=["lloyd_auto", "cosine", "bisecting", "minibatch", "kmedians", "kmedoids_pam_l1"])
def test_models_cross_between_python_and_the_command_line(cli, tmp_path, name, data_file, options, params):
    model, X, estimator = fit_both(cli, tmp_path, name, data_file, options, params)
    # `lloyd fit`'s model loaded in Python labels rows as the estimator that fitted them.
    loaded = lloyd.load(model)
    np.testing.assert_array_equal(loaded.cluster_centers_, estimator.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    if name != "minibatch":  # mini-batch streams its labels to the file
        np.testing.assert_array_equal(loaded.labels_, estimator.labels_)
    # Python's model read by `lloyd predict` labels rows as Python does, with the same inertia.
    saved = tmp_path / f"{name}_python.h5"
    estimator.save(saved)
    predicted = tmp_path / f"{name}_predicted.h5"
    cli("predict", "--model", saved, "--input", f"{DATA / data_file}:/X", "--output", predicted)
    np.testing.assert_array_equal(read(predicted, "/labels"), estimator.predict(X))
    with h5py.File(predicted, "r") as f:
        assert f.attrs["inertia"] == -estimator.score(X)


def test_save_refuses_to_replace_a_file(tmp_path, blobs):
    _, X, _ = blobs
    estimator = lloyd.KMeans(3, random_state=0).fit(X)
    path = tmp_path / "precious.h5"
    path.write_bytes(b"the user's data")
    with pytest.raises(ValueError, match="exists"):
        estimator.save(path)
    assert path.read_bytes() == b"the user's data"
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind
