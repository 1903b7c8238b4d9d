"""Anomaly detection with K-Means: a row far from every centre is suspicious.

Blobs from `lloyd generate` get a known set of far rows injected at random places; `lloyd fit`
(on several ranks) finds the blobs' centres and stores each row's distance to its centre
(`--distances`), and `lloyd predict --distances --top-outliers N` scores every row the same way
and names the N farthest. Against the injected truth: precision and recall at N, a histogram of
the scores with the threshold (the N-th largest score) marked, and the flagged rows drawn.

    /usr/bin/python3 examples/anomaly_detection/run.py [--large] [--ranks N] [--check]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BLOBS, SEED = 5, 2
# Injected rows lie at least this many blob standard deviations from every blob centre: outside
# the blobs, but within reach of their tails (2-D Gaussian: P(r > 3.5σ) ≈ 0.2 %), so that the
# ranking has to separate injected rows from rare genuine ones.
MIN_DISTANCE = 3.5


def make_data(args):
    """Blobs from lloyd plus injected outliers at random rows; returns the file and the truth."""
    blobs = args.work / "blobs.h5"
    lloyd(args, "generate", "--output", blobs, "--samples", args.samples, "--features", 2,
          "--centers", BLOBS, "--seed", SEED)
    with h5py.File(blobs, "r") as f:
        X, centers = f["/X"][:], f["/centers"][:]
    rng = np.random.default_rng(SEED)
    low, high = centers.min(0) - 8, centers.max(0) + 8
    injected = np.empty((0, 2))
    while len(injected) < args.outliers:
        candidates = rng.uniform(low, high, size=(4 * args.outliers, 2))
        # Truth is defined by the generating centres (the data's recipe), not by lloyd's fit.
        far = np.sqrt(((candidates[:, None] - centers[None]) ** 2).sum(-1)).min(1) >= MIN_DISTANCE
        injected = np.vstack([injected, candidates[far]])[:args.outliers]
    rows = np.vstack([X, injected])
    is_outlier = np.r_[np.zeros(len(X), bool), np.ones(len(injected), bool)]
    order = rng.permutation(len(rows))  # spread over the file, hence over every rank's shard
    data = args.work / "data.h5"
    with h5py.File(data, "w") as f:
        f["/X"], f["/is_outlier"] = rows[order], is_outlier[order].astype(np.int8)
    return data, rows[order], is_outlier[order]


def main():
    args = arguments(__doc__, samples=20_000, outliers=100)
    if args.large:
        args.samples, args.outliers = 2_000_000, 10_000
    checks = Checks(args)
    data, X, is_outlier = make_data(args)
    n_flag = args.outliers
    print(f"{len(X)} rows: {len(X) - n_flag} in {BLOBS} blobs + {n_flag} injected; {args.ranks} ranks")

    model, scores_file = args.work / "model.h5", args.work / "scores.h5"
    fit = lloyd(args, "fit", "--input", data, "--k", BLOBS, "--n-init", 3, "--seed", 0,
                "--distances", "--output", model, "--json", json_output=True)
    print(f"fit: inertia {fit['inertia']:.6g}, {fit['n_iter']} iterations, {fit['seconds']:.2f} s")
    predicted = lloyd(args, "predict", "--model", model, "--input", data, "--output", scores_file,
                      "--distances", "--top-outliers", n_flag, "--json", json_output=True)
    with h5py.File(model, "r") as f:
        centres, fit_distance = f["/centroids"][:], f["/distance"][:]
    with h5py.File(scores_file, "r") as f:
        score, flagged = f["/distance"][:], f["/outliers/row"][:]
    threshold = predicted["outliers"][-1]["distance"]

    hits = is_outlier[flagged].sum()
    precision, recall = hits / len(flagged), hits / is_outlier.sum()
    print(f"top {n_flag} scores (threshold {threshold:.3f}): {hits} injected -> "
          f"precision@{n_flag} {precision:.3f}, recall@{n_flag} {recall:.3f}")
    # Precision and recall along the ranking lloyd's scores give (ties: the lower row first, as
    # --top-outliers orders them).
    ranking = np.lexsort((np.arange(len(score)), -score))
    found = np.cumsum(is_outlier[ranking])
    n_axis = np.arange(1, min(4 * n_flag, len(score)) + 1)
    for n in (n_flag // 2, 2 * n_flag):
        print(f"  at N = {n}: precision {found[n - 1] / n:.3f}, recall {found[n - 1] / n_flag:.3f}")

    checks.expect(np.array_equal(fit_distance, score),
                  "fit --distances and predict --distances give the same scores")
    checks.expect(np.array_equal(flagged, ranking[:n_flag]),
                  "--top-outliers names the rows with the largest /distance")
    checks.expect(precision >= 0.85, f"precision@{n_flag} {precision:.3f} >= 0.85")
    checks.expect(recall >= 0.85, f"recall@{n_flag} {recall:.3f} >= 0.85")
    checks.expect(found[n_flag // 2 - 1] == n_flag // 2,
                  f"the top {n_flag // 2} are all injected rows")
    checks.expect(found[2 * n_flag - 1] / n_flag >= 0.98, f"recall@{2 * n_flag} >= 0.98")

    # Picture 1: the scores, and precision / recall along N.
    figure, (hist, curve) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    bins = np.linspace(0, score.max() * 1.02, 80)
    hist.hist(score[~is_outlier], bins=bins, log=True, color="#9ab", label="blob rows")
    hist.hist(score[is_outlier], bins=bins, log=True, color="#d33", alpha=0.8, label="injected rows")
    hist.axvline(threshold, color="k", ls="--", lw=1)
    hist.text(threshold, hist.get_ylim()[1] * 0.6, f" threshold (top {n_flag}):\n score ≥ {threshold:.2f}",
              va="top", fontsize=8)
    hist.set(xlabel="score = distance to the nearest centre (lloyd predict --distances)",
             ylabel="rows (log)", title="Anomaly scores")
    hist.legend(fontsize=8, loc="upper right")
    curve.plot(n_axis, found[n_axis - 1] / n_axis, label="precision@N")
    curve.plot(n_axis, found[n_axis - 1] / n_flag, label="recall@N")
    curve.axvline(n_flag, color="k", ls="--", lw=1)
    curve.set(xlabel="N (rows flagged, farthest first)", ylim=(0, 1.05),
              title=f"At N = {n_flag}: precision {precision:.2f}, recall {recall:.2f}")
    curve.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    save(figure, args, "anomaly_detection_scores")
    plt.close(figure)

    # Picture 2: the flagged rows in the plane (the data are 2-D: nothing projected).
    figure, ax = plt.subplots(figsize=(7, 6))
    shown = np.random.default_rng(0).permutation(len(X))[:20_000]  # display only, for --large
    shown = shown[~is_outlier[shown]]
    ax.scatter(*X[shown].T, s=2, c="#bbc", lw=0, label="blob rows", rasterized=True)
    is_flagged = np.zeros(len(X), bool)
    is_flagged[flagged] = True
    for mask, style, label in [
            (is_flagged & is_outlier, dict(c="#d33", s=18), "flagged, injected"),
            (is_flagged & ~is_outlier, dict(c="#f90", s=30, marker="s"), "flagged, not injected"),
            (~is_flagged & is_outlier, dict(facecolors="none", edgecolors="#d33", s=30),
             "injected, missed")]:
        ax.scatter(*X[mask].T, **style, label=f"{label} ({mask.sum()})")
    for c in centres:  # a row is flagged when it lies outside every circle of its own cell
        ax.add_patch(plt.Circle(c, threshold, fill=False, ls="--", lw=0.8, color="k"))
    ax.scatter(*centres.T, marker="x", c="k", s=60, label="lloyd's centres")
    ax.set_aspect("equal")
    ax.set_title(f"Top {n_flag} scores flagged (dashed: score = {threshold:.2f})")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=3)
    save(figure, args, "anomaly_detection_flagged")
    plt.close(figure)
    checks.finish()


if __name__ == "__main__":
    main()
