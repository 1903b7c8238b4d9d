"""lloyd.choose_k: the same table and recommendations as `lloyd choose-k` (bit for bit) on the
same rows and seed, its plot, and bad arguments raising ValueError with one line."""

import json

import h5py
import matplotlib
import numpy as np
import pytest
import scipy.sparse as sp

import lloyd
from mpi_analysis import launch
from conftest import DATA, read

matplotlib.use("Agg")

CRITERIA_NAMES = {"inertia": "elbow", "silhouette": "silhouette", "calinski_harabasz": "calinski_harabasz",
                  "davies_bouldin": "davies_bouldin", "gap": "gap"}


def sweep_cli(cli, tmp_path, data, *options):
    out = tmp_path / "sweep.h5"
    done = cli("choose-k", "--input", data, "--output", out, "--json", "--quiet", *options)
    with h5py.File(out, "r") as f:
        table = {name: f[name][()] for name in f}
    return table, json.loads(done.stdout)


def assert_same_sweep(result, table, summary):
    for column, values in result.table.items():
        np.testing.assert_array_equal(values, table[column], err_msg=column)  # NaN == NaN here
    for name, k in result.best.items():
        assert k == summary[f"recommended_k_{CRITERIA_NAMES[name]}"], name
    assert result.silhouette_sampled == summary["silhouette_sampled"]


def test_euclidean_sweep_is_the_command_lines(cli, tmp_path):
    X = read(DATA / "metrics_gap.h5", "/X")
    table, summary = sweep_cli(cli, tmp_path, f"{DATA / 'metrics_gap.h5'}:/X", "--k-min", 1, "--k-max", 6,
                               "--seed", 3)
    result = lloyd.choose_k(X, range(1, 7), random_state=3)
    assert list(result.table) == ["k", "n_iter", "inertia", "silhouette", "silhouette_stderr", "calinski_harabasz",
                                  "davies_bouldin", "gap", "gap_s", "log_w", "reference_log_w"]
    assert_same_sweep(result, table, summary)
    assert result.best == {"inertia": 4, "silhouette": 4, "calinski_harabasz": 4, "davies_bouldin": 4, "gap": 4}
    assert np.isnan(result.table["silhouette"][0])  # undefined at K = 1


def test_float32_options_and_sampled_silhouette(cli, tmp_path):
    data = DATA / "metrics_blobs_f32.h5"
    X = read(data, "/X")
    table, summary = sweep_cli(cli, tmp_path, f"{data}:/X", "--k-min", 2, "--k-max", 5, "--seed", 11,
                               "--criteria", "silhouette,ch,gap", "--init", "k-means||", "--n-init", 2,
                               "--gap-refs", 3, "--gap-reference", "pca", "--silhouette-max-exact", 100,
                               "--silhouette-sample-size", 150, "--tol", 0.001, "--max-iter", 50)
    result = lloyd.choose_k(X, [2, 3, 4, 5], criteria=("silhouette", "ch", "gap"), init="k-means||", n_init=2,
                            gap_refs=3, gap_reference="pca", silhouette_max_exact=100, silhouette_sample_size=150,
                            tol=0.001, max_iter=50, random_state=11)
    assert "davies_bouldin" not in result.table and set(result.best) == {"inertia", "silhouette",
                                                                         "calinski_harabasz", "gap"}
    assert result.silhouette_sampled and (result.table["silhouette_stderr"] > 0).all()
    assert_same_sweep(result, table, summary)


def test_cosine_sweep_on_sparse_rows(cli, tmp_path):
    data = DATA / "cosine_sparse.h5"
    with h5py.File(data, "r") as f:
        g = f["/X"]
        X = sp.csr_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=tuple(g.attrs["shape"]))
    table, summary = sweep_cli(cli, tmp_path, f"{data}:/X", "--k-min", 2, "--k-max", 5, "--seed", 2,
                               "--metric", "cosine")
    result = lloyd.choose_k(X, range(2, 6), metric="cosine", random_state=2)
    assert set(result.best) == {"inertia", "silhouette"}
    assert_same_sweep(result, table, summary)
    dense = lloyd.choose_k(X.toarray(), range(2, 6), metric="cosine", random_state=2)
    for column in result.table:
        np.testing.assert_array_equal(dense.table[column], result.table[column])


def test_plot_marks_the_best_k():
    X = read(DATA / "metrics_gap.h5", "/X")
    result = lloyd.choose_k(X, range(2, 6), criteria=("silhouette", "davies_bouldin"), random_state=0)
    axes = result.plot()
    assert len(axes) == 3 and [a.get_title() for a in axes] == ["inertia (elbow)", "silhouette (max)",
                                                                "Davies-Bouldin (min)"]
    assert axes[1].get_legend().get_texts()[0].get_text() == f"K = {result.best['silhouette']}"
    import matplotlib.pyplot as plt
    _, given = plt.subplots(1, 3)
    assert list(result.plot(ax=given)) == list(given)
    with pytest.raises(ValueError, match="ax must hold 3 axes"):
        result.plot(ax=given[0])
    plt.close("all")
    assert "best: inertia=" in repr(result)


X20 = np.random.default_rng(0).normal(size=(20, 2))


@pytest.mark.parametrize("arguments,message", [
    (dict(k_range=(2, 10)), "k_range must be consecutive increasing integers"),
    (dict(k_range=range(0, 3)), "k_range must be consecutive increasing integers >= 1"),
    (dict(k_range=[]), "k_range must hold integers"),
    (dict(k_range=range(2, 4), criteria=("silhouette", "bic")), "unknown criterion 'bic'"),
    (dict(k_range=range(2, 4), metric="cosine", criteria=("gap",)), "with metric='cosine' the criteria are"),
    (dict(k_range=range(2, 4), init="random"), "init must be one of"),
    (dict(k_range=range(2, 4), tol=-1.0), "tol must be a finite number >= 0"),
    (dict(k_range=range(2, 4), gap_refs=0), "gap_refs must be an integer >= 1"),
    (dict(k_range=range(2, 4), metric="cosine", algorithm="elkan"), "algorithm does not apply"),
    (dict(k_range=range(2, 40)), "k-max 39 exceeds the 20 rows"),  # the engine's message
])
def test_bad_arguments_raise_value_error(arguments, message):
    with pytest.raises(ValueError) as error:
        lloyd.choose_k(X20, **arguments)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("ranks", [2, 3])
def test_with_comm_every_rank_its_rows(ranks):
    assert launch(ranks, "choose_k").count("OK") == ranks
