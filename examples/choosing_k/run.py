#!/usr/bin/python3
"""Choosing K, and where K-Means' assumptions fail.

    /usr/bin/python3 examples/choosing_k/run.py [--large] [--ranks N]

1. Five Gaussian blobs (known K = 5, 2 000 rows in 2-D): `lloyd choose-k` sweeps K = 1..10 on
   MPI ranks and recommends a K by the elbow of the inertia, the silhouette,
   Calinski-Harabasz, Davies-Bouldin and the gap statistic; one figure shows the five curves,
   each with its recommendation, next to the data clustered with `lloyd fit` at that K.
2. Two moons and two concentric rings (two true groups each, not round blobs): K-Means,
   K-medians and K-medoids (`lloyd fit --mode lloyd|kmedians|kmedoids`, k = 2) all cut them
   with a straight line; scikit-learn's spectral clustering on a nearest-neighbour graph
   separates them. The adjusted Rand index against the true groups of every panel comes from
   `lloyd evaluate --truth`.

--large: 200 000 blob rows and 10 000 moon/ring rows, on 4 ranks unless --ranks says otherwise.
"""

import importlib.util
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import ROOT, Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import SpectralClustering  # noqa: E402
from sklearn.datasets import make_blobs, make_circles, make_moons  # noqa: E402

TRUE_K = 5
# Spread so that no two blobs merge at std 1.
CENTRES = [[0, 0], [9, 2], [3, 9], [-7, 6], [-5, -7]]
K_MAX = 10
# Restarts of every fit of the sweep: with one, a poor 2-means fit can make the gap statistic
# stop at K = 1 (Tibshirani's rule takes the first K whose gap is within s of the next).
SWEEP_N_INIT = 3
CRITERIA = {"elbow": "recommended_k_elbow", "silhouette": "recommended_k_silhouette",
            "Calinski-Harabasz": "recommended_k_calinski_harabasz",
            "Davies-Bouldin": "recommended_k_davies_bouldin", "gap": "recommended_k_gap"}
MODES = {"K-Means": "lloyd", "K-medians": "kmedians", "K-medoids": "kmedoids"}


def plot_sweep_mark():
    """mark(ax, k, label) of scripts/plot/plot_sweep.py (the plot of one choose-k sweep): the
    dashed line at a recommended K."""
    spec = importlib.util.spec_from_file_location("plot_sweep", ROOT / "scripts" / "plot" / "plot_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mark


def write(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f[name] = value
    return path


def labels_of(model):
    with h5py.File(model, "r") as f:
        return f["labels"][...]


def main():
    args = arguments(__doc__)
    check = Checks(args)
    recommended = choose_k(args)
    for name, k in recommended.items():
        check.expect(k == TRUE_K, f"{name} recommends the true K = {TRUE_K}")
    scores = where_k_means_fails(args)
    for shape, by_method in scores.items():
        for method, ari in by_method.items():
            if method.startswith("spectral"):
                check.expect(ari > 0.95, f"{shape}: {method} finds the true groups (ARI > 0.95)")
            else:
                check.expect(ari < 0.6, f"{shape}: {method} cuts across the true groups (ARI < 0.6)")
    check.finish()


def choose_k(args):
    rows = 200_000 if args.large else 2_000
    X, _ = make_blobs(n_samples=rows, centers=CENTRES, cluster_std=1.0, random_state=0)
    data = write(args.work / "blobs.h5", X=X)
    sweep_file = args.work / "sweep.h5"
    sweep = lloyd(args, "choose-k", "--input", f"{data}:/X", "--k-min", 1, "--k-max", K_MAX,
                  "--n-init", SWEEP_N_INIT, "--seed", 0, "--output", sweep_file, "--quiet", "--json",
                  json_output=True)
    recommended = {name: sweep[key] for name, key in CRITERIA.items()}
    print(f"{rows} rows in 2-D from {TRUE_K} blobs, {args.ranks} ranks: choose-k K = 1..{K_MAX} "
          f"in {sweep['seconds']:.1f} s" + (" (silhouette on a sample)" if sweep["silhouette_sampled"] else ""))
    print("  recommended K: " + ", ".join(f"{name} {k}" for name, k in recommended.items()))

    consensus = max(set(recommended.values()), key=list(recommended.values()).count)
    model = args.work / "blobs_model.h5"
    lloyd(args, "fit", "--input", f"{data}:/X", "--k", consensus, "--n-init", SWEEP_N_INIT, "--seed", 0,
          "--output", model)
    with h5py.File(sweep_file, "r") as f:
        curves = {name: f[name][...] for name in f if isinstance(f[name], h5py.Dataset)}
        sampled = bool(f.attrs["silhouette_sampled"])
    draw_sweep(args, X, labels_of(model), consensus, curves, recommended, sampled)
    return recommended


def draw_sweep(args, X, labels, consensus, curves, recommended, sampled):
    mark = plot_sweep_mark()
    k = curves["k"]
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    ax = axes[0, 0]
    shown = np.random.default_rng(0).permutation(len(X))[:5000]
    ax.scatter(X[shown, 0], X[shown, 1], c=labels[shown], cmap="tab10", s=4, vmin=0, vmax=9)
    ax.set(title=f"the data, clustered by lloyd fit at K = {consensus}", aspect="equal")
    ax.set_xticks([]), ax.set_yticks([])
    panels = [
        (axes[0, 1], "elbow", curves["inertia"], None, "inertia (log scale)", "elbow of the inertia"),
        (axes[0, 2], "silhouette", curves["silhouette"], curves["silhouette_stderr"] if sampled else None,
         "mean silhouette", "silhouette (highest)" + (" ±1 s.e., sampled" if sampled else "")),
        (axes[1, 0], "Calinski-Harabasz", curves["calinski_harabasz"], None, "Calinski-Harabasz",
         "Calinski-Harabasz (highest)"),
        (axes[1, 1], "Davies-Bouldin", curves["davies_bouldin"], None, "Davies-Bouldin",
         "Davies-Bouldin (lowest)"),
        (axes[1, 2], "gap", curves["gap"], curves["gap_s"], "Gap(K) ± s(K)",
         "gap statistic (first K within s of the next)"),
    ]
    for ax, name, values, error, ylabel, title in panels:
        finite = np.isfinite(values)
        if error is not None:
            ax.errorbar(k[finite], values[finite], yerr=error[finite], marker="o", capsize=3)
        else:
            ax.plot(k[finite], values[finite], marker="o")
        if name == "elbow":
            ax.set_yscale("log")
        ax.set(xlabel="K", ylabel=ylabel, title=title, xticks=k)
        mark(ax, recommended[name], "recommended")
    figure.suptitle(f"lloyd choose-k on {len(X)} rows from {TRUE_K} blobs: every criterion's recommended K (dashed)")
    figure.tight_layout()
    save(figure, args, "choosing_k")


def where_k_means_fails(args):
    rows = 10_000 if args.large else 1_000
    shapes = {"two moons": make_moons(n_samples=rows, noise=0.06, random_state=0),
              "two rings": make_circles(n_samples=rows, noise=0.05, factor=0.45, random_state=0)}
    scores, labels = {}, {}
    for shape, (X, truth) in shapes.items():
        stem = shape.replace(" ", "_")
        data = write(args.work / f"{stem}.h5", X=X, y=truth)
        runs = {}
        for method, mode in MODES.items():
            model = args.work / f"{stem}_{mode}.h5"
            lloyd(args, "fit", "--input", f"{data}:/X", "--k", 2, "--mode", mode, "--seed", 0, "--output", model)
            runs[method] = model, labels_of(model)
        # What to use instead: a method that follows the shape, here scikit-learn's spectral
        # clustering on the 15-nearest-neighbour graph (density methods such as DBSCAN or
        # HDBSCAN would do as well). lloyd scores its labels like the others.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a k-NN graph of a few components
            spectral = SpectralClustering(n_clusters=2, affinity="nearest_neighbors", n_neighbors=15,
                                          random_state=0).fit_predict(X)
        spectral_file = write(args.work / f"{stem}_spectral.h5", labels=spectral)
        runs["spectral (scikit-learn)"] = f"{spectral_file}:/labels", spectral
        scores[shape], labels[shape] = {}, {}
        for method, (model, found) in runs.items():
            result = lloyd(args, "evaluate", "--input", f"{data}:/X", "--labels", model, "--truth", f"{data}:/y",
                           "--metrics", "none", "--json", json_output=True)
            scores[shape][method], labels[shape][method] = result["adjusted_rand"], found
        print(f"{shape} ({rows} rows), ARI against the true groups: "
              + ", ".join(f"{method} {ari:.2f}" for method, ari in scores[shape].items()))
    draw_failures(args, shapes, labels, scores)
    return scores


def draw_failures(args, shapes, labels, scores):
    methods = list(next(iter(labels.values())))
    figure, axes = plt.subplots(len(shapes), len(methods), figsize=(11, 5.2))
    shown = slice(0, 2000)  # the data sets are shuffled: the first rows are a fair sample
    for row, (shape, (X, _)) in enumerate(shapes.items()):
        for column, method in enumerate(methods):
            ax = axes[row, column]
            ax.scatter(X[shown, 0], X[shown, 1], c=labels[shape][method][shown], cmap="coolwarm", s=5, linewidths=0)
            ax.set_title(f"{method}: ARI {scores[shape][method]:.2f}", fontsize=10)
            ax.set_aspect("equal")
            ax.set_xticks([]), ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(shape)
    figure.suptitle("k = 2 on shapes that are not round blobs: centre-based methods cut them with a straight line")
    figure.tight_layout()
    save(figure, args, "choosing_k_shapes")


if __name__ == "__main__":
    main()
