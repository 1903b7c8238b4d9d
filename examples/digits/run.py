"""Handwritten digits: scikit-learn's digits (8 x 8 images, 64 grey levels as features) clustered
into 10 by `lloyd fit` on MPI ranks, without the labels, and scored against the true digits.

    /usr/bin/python3 examples/digits/run.py [--large] [--ranks N]

Default: the 1,797 digits on 2 ranks. --large: the digits repeated 56 times with Gaussian noise
(sd 1 grey level, clipped to 0..16) = 100,632 rows on 4 ranks (or --ranks); the silhouette is
then lloyd's estimate from a 5,000-row sample (the exact one costs n^2 distances).

lloyd does the clustering (`fit --k 10 --n-init 10`) and every score (`evaluate --truth`: ARI,
NMI, silhouette, with the per-sample silhouettes in --output). Python only draws: the 10
centroids as 8 x 8 images (digits.png), the confusion matrix of clusters against digits and the
silhouette plot per cluster (digits_scores.png).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import silhouette_samples  # noqa: E402

K = 10
SEED = 19
LARGE_COPIES = 56
LARGE_SILHOUETTE_SAMPLE = 5000


def data(large):
    """The digits' pixels (float64, 0..16) and true digits; with --large, noisy copies."""
    digits = load_digits()
    X, y = digits.data, digits.target.astype(np.int32)
    if large:
        rng = np.random.default_rng(SEED)
        X = np.clip(np.tile(X, (LARGE_COPIES, 1)) + rng.normal(0, 1, (LARGE_COPIES * len(X), X.shape[1])),
                    0, 16)
        y = np.tile(y, LARGE_COPIES)
    return X, y


def main():
    args = arguments(__doc__)
    started = time.perf_counter()
    X, y = data(args.large)
    path = args.work / "digits.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    model = args.work / "model.h5"
    silhouettes = args.work / "silhouette.h5"

    fit = lloyd(args, "fit", "--input", f"{path}:/X", "--k", K, "--n-init", 10, "--seed", SEED,
                "--output", model, "--json", json_output=True)
    print(f"{len(X)} digits x {X.shape[1]} pixels, {args.ranks} ranks: lloyd fit inertia "
          f"{fit['inertia']:.6g}, {fit['n_iter']} iterations (best of {fit['n_init']} restarts), "
          f"{fit['seconds']:.2f} s")
    sampled = args.large
    evaluation = ["--metrics", "silhouette", "--truth", f"{path}:/y", "--json"]
    evaluation += (["--sample-size", LARGE_SILHOUETTE_SAMPLE, "--seed", SEED] if sampled
                   else ["--output", silhouettes])
    scores = lloyd(args, "evaluate", "--input", f"{path}:/X", "--labels", model, *evaluation,
                   json_output=True)
    print(f"lloyd evaluate ({scores['seconds']:.2f} s): ARI {scores['adjusted_rand']:.4f}  "
          f"NMI {scores['normalized_mutual_info']:.4f}  silhouette {scores['silhouette']:.4f}"
          + (f" +- {scores['silhouette_stderr']:.4f} ({LARGE_SILHOUETTE_SAMPLE} rows)" if sampled else ""))

    with h5py.File(model, "r") as f:
        centroids, labels = f["centroids"][...], f["labels"][...]
    if sampled:
        # lloyd evaluate gives per-sample silhouettes only for the exact score; at this size the
        # plot is scikit-learn's silhouette_samples of the same number of rows drawn with numpy,
        # on lloyd's labels (the score printed above is lloyd's).
        rows = np.random.default_rng(SEED).choice(len(X), LARGE_SILHOUETTE_SAMPLE, replace=False)
        per_row, plot_labels = silhouette_samples(X[rows], labels[rows]), labels[rows]
    else:
        with h5py.File(silhouettes, "r") as f:
            per_row, plot_labels = f["silhouette"][...], labels

    confusion = np.zeros((K, 10), dtype=np.int64)
    np.add.at(confusion, (labels, y), 1)
    majority = confusion.argmax(axis=1)
    purity = confusion.max(axis=1).sum() / len(y)
    print(f"clusters' majority digits: {' '.join(map(str, majority))}; "
          f"{len(set(majority))} distinct, purity {purity:.3f}")

    checks = Checks(args)
    checks.expect(scores["adjusted_rand"] > 0.5, f"ARI {scores['adjusted_rand']:.3f} > 0.5")
    checks.expect(scores["normalized_mutual_info"] > 0.6,
                  f"NMI {scores['normalized_mutual_info']:.3f} > 0.6")
    checks.expect(0.1 < scores["silhouette"] < 0.3,
                  f"silhouette {scores['silhouette']:.3f} in (0.1, 0.3): digits overlap in pixel space")
    checks.expect(len(set(majority)) >= 8, f"{len(set(majority))} >= 8 digits are some cluster's majority")
    if not sampled:
        # The per-sample values drawn are lloyd's; they are scikit-learn's on the same labels.
        difference = np.abs(per_row - silhouette_samples(X, labels)).max()
        checks.expect(difference < 1e-9, f"per-sample silhouettes = scikit-learn's (max diff {difference:.1e})")
        checks.expect(np.isclose(per_row.mean(), scores["silhouette"], rtol=1e-12),
                      "the silhouette plot's mean is lloyd's score")

    draw_centroids(args, centroids, confusion, majority)
    draw_scores(args, confusion, majority, per_row, plot_labels, scores, sampled)
    print(f"total {time.perf_counter() - started:.1f} s")
    checks.finish()


def cluster_order(majority, confusion):
    """Clusters sorted by their majority digit (then size), so the confusion matrix reads along
    its diagonal."""
    return sorted(range(K), key=lambda c: (majority[c], -confusion[c].sum()))


def draw_centroids(args, centroids, confusion, majority):
    """The 10 centroids as 8 x 8 images, each titled with its cluster's majority digit."""
    figure, axes = plt.subplots(2, 5, figsize=(6.4, 3.9))
    for axis, c in zip(axes.ravel(), cluster_order(majority, confusion)):
        axis.imshow(centroids[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16, interpolation="nearest")
        share = confusion[c, majority[c]] / confusion[c].sum()
        axis.set_title(f"cluster {c} \u2192 {majority[c]}\n({share:.0%} of {confusion[c].sum()})", fontsize=8)
        axis.axis("off")
    figure.suptitle(f"The {K} centroids of lloyd fit on the digits (mean image of each cluster)",
                    fontsize=10)
    figure.tight_layout()
    save(figure, args, "digits")
    plt.close(figure)


def draw_scores(args, confusion, majority, per_row, plot_labels, scores, sampled):
    """Left: the confusion matrix, clusters against digits. Right: the silhouette plot, each
    cluster's per-sample silhouettes sorted, the mean as a dashed line."""
    order = cluster_order(majority, confusion)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.0, 4.3), gridspec_kw=dict(width_ratios=(1.05, 1)))
    shown = confusion[order]
    left.imshow(shown, cmap="Blues")
    for i in range(K):
        for j in range(10):
            if shown[i, j]:
                left.text(j, i, str(shown[i, j]), ha="center", va="center", fontsize=7.5,
                          color="white" if shown[i, j] > shown.max() / 2 else "black")
    left.set_xticks(range(10))
    left.set_yticks(range(K), [f"{c} ({majority[c]})" for c in order])
    left.set_xlabel("true digit")
    left.set_ylabel("lloyd's cluster (majority digit)")
    left.set_title(f"confusion: ARI {scores['adjusted_rand']:.3f}, NMI {scores['normalized_mutual_info']:.3f}",
                   fontsize=9)

    # Clusters top to bottom in the confusion matrix's order, each one's values sorted.
    colours = plt.get_cmap("tab10")
    top, middles = 0, []
    for position, c in enumerate(order):
        values = np.sort(per_row[plot_labels == c])[::-1]
        right.fill_betweenx(np.arange(top, top + len(values)), 0, values,
                            color=colours(position), linewidth=0)
        middles.append(top + len(values) / 2)
        top += len(values) + max(5, len(per_row) // 150)
    right.set_ylim(top, -max(5, len(per_row) // 150))
    right.axvline(scores["silhouette"], color="black", linestyle="--", linewidth=1)
    right.axvline(0, color="grey", linewidth=0.6)
    right.set_yticks(middles, [f"{c} ({majority[c]})" for c in order])
    right.set_xlabel("silhouette of each sample")
    note = f" (sample of {len(per_row)} rows)" if sampled else ""
    right.set_title(f"silhouette per cluster: mean {scores['silhouette']:.3f} (dashed){note}", fontsize=9)
    right.set_xlim(per_row.min() - 0.02, per_row.max() + 0.05)
    figure.tight_layout()
    save(figure, args, "digits_scores")
    plt.close(figure)


if __name__ == "__main__":
    main()
