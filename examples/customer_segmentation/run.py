"""Customer segmentation: why features on different scales must be standardised.

A synthetic customer table with four known segments and features in their own units: recency
(days since the last order), frequency (orders a year), monetary (spend a year, in euros) and
age (years). Spend runs to thousands while frequency stays in tens, so on the raw table
K-Means' distances are almost only spend and `lloyd fit` cuts the customers into spend bands.
`lloyd fit --standardize` clusters on z-scores (the model keeps the scaling; its /centroids
stay in data units) and finds the segments. Shown: both clusterings, the cluster profiles in
data units, and the ARI against the true segments (`lloyd evaluate --truth`).

    /usr/bin/python3 examples/customer_segmentation/run.py [--large] [--ranks N] [--check]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

FEATURES = ["recency (days)", "frequency (orders/yr)", "monetary (€/yr)", "age (years)"]
# Segment: share of customers, mean days since the last order, mean orders a year, median
# spend a year (€), mean age.
SEGMENTS = {
    "champions": (0.20, 10, 22, 2200, 44),
    "loyal": (0.30, 30, 10, 900, 50),
    "new": (0.25, 14, 2, 160, 29),
    "lapsed": (0.25, 210, 4, 450, 39),
}
NAMES = list(SEGMENTS)
COLOURS = np.array(["#1b9e77", "#7570b3", "#e6ab02", "#d95f02"])
K, SEED = len(SEGMENTS), 3


def make_customers(n):
    """The customer table (n × 4, in data units) and each customer's true segment."""
    rng = np.random.default_rng(SEED)
    segment = rng.choice(K, size=n, p=[s[0] for s in SEGMENTS.values()])
    recency, frequency, spend, age = np.array([s[1:] for s in SEGMENTS.values()], float)[segment].T
    X = np.column_stack([
        np.round(rng.gamma(9, recency / 9)),                # whole days, spread a third of the mean
        rng.poisson(frequency) + 1,                         # at least the one order that made them customers
        np.round(rng.lognormal(np.log(spend), 0.4), 2),     # spend is skewed: a long tail of big spenders
        np.clip(np.round(rng.normal(age, 9)), 18, 90),
    ])
    return X, segment


def fit(args, data, name, *options):
    """lloyd fit (K clusters) on the ranks; the model's ARI against the segments by lloyd evaluate."""
    model = args.work / f"{name}.h5"
    result = lloyd(args, "fit", "--input", f"{data}:/X", "--k", K, "--n-init", 4, "--seed", 0,
                   *options, "--output", model, "--json", json_output=True)
    scores = lloyd(args, "evaluate", "--input", f"{data}:/X", "--labels", model,
                   "--truth", f"{data}:/segment", "--metrics", "none", "--json", json_output=True)
    with h5py.File(model, "r") as f:
        fitted = {key: f[key][:] for key in ("centroids", "labels", "scaling/mean", "scaling/scale") if key in f}
    fitted.update(ari=scores["adjusted_rand"], nmi=scores["normalized_mutual_info"],
                  seconds=result["seconds"])
    return fitted


def matched_segments(labels, segment):
    """For each cluster, the true segment it overlaps most (one to one), so colours compare."""
    overlap = np.zeros((K, K))
    np.add.at(overlap, (labels, segment), 1)
    clusters, segments = linear_sum_assignment(-overlap)
    return segments[np.argsort(clusters)]


def profile_table(ax, rows, row_names, row_segments, colour_mean, colour_scale, title):
    """A table of cluster means in data units, each cell coloured by its z-score; the row names
    in the colour of the segment the row stands for."""
    z = (rows - colour_mean) / colour_scale
    ax.imshow(z, cmap="RdBu_r", vmin=-2.5, vmax=2.5, aspect="auto")
    for (i, j), value in np.ndenumerate(rows):
        ax.text(j, i, f"{value:,.0f}", ha="center", va="center", fontsize=8,
                color="white" if abs(z[i, j]) > 1.8 else "black")
    ax.set_xticks(range(len(FEATURES)), [f.replace(" (", "\n(") for f in FEATURES], fontsize=7)
    ax.set_yticks(range(len(rows)), row_names, fontsize=8, fontweight="bold")
    for label, s in zip(ax.get_yticklabels(), row_segments):
        label.set_color(COLOURS[s])
    ax.set_title(title, fontsize=9)


def main():
    args = arguments(__doc__, customers=20_000)
    if args.large:
        args.customers = 2_000_000
    checks = Checks(args)
    X, segment = make_customers(args.customers)
    data = args.work / "customers.h5"
    with h5py.File(data, "w") as f:
        f["/X"], f["/segment"] = X, segment.astype(np.int32)
    print(f"{len(X)} customers, {K} segments, {args.ranks} ranks; feature standard deviations: "
          + ", ".join(f"{name.split()[0]} {s:.3g}" for name, s in zip(FEATURES, X.std(0))))

    raw = fit(args, data, "raw")
    scaled = fit(args, data, "standardized", "--standardize")
    for name, model in (("raw", raw), ("--standardize", scaled)):
        print(f"lloyd fit {name:14s} ARI {model['ari']:.3f}, NMI {model['nmi']:.3f} "
              f"({model['seconds']:.2f} s)")
    # Reference: scikit-learn on the same table, raw and through StandardScaler.
    reference = StandardScaler().fit(X)
    sk = {name: adjusted_rand_score(segment, KMeans(K, n_init=4, random_state=0).fit_predict(Z))
          for name, Z in (("raw", X), ("scaled", reference.transform(X)))}
    print(f"scikit-learn KMeans: ARI raw {sk['raw']:.3f}, with StandardScaler {sk['scaled']:.3f}")

    truth_means = np.array([X[segment == s].mean(0) for s in range(K)])
    header = f"  {'cluster':8s}{'size':>7s}  {'best match':11s}" + "".join(f"{f.split()[0]:>11s}" for f in FEATURES)
    print("true segments (means, data units):")
    print(header)
    for s in range(K):
        print(f"  {'-':8s}{np.mean(segment == s):7.1%}  {NAMES[s]:11s}" + "".join(f"{v:11,.1f}" for v in truth_means[s]))
    for name, model in (("raw", raw), ("--standardize", scaled)):
        model["segment"] = matched_segments(model["labels"], segment)
        print(f"cluster profiles, lloyd fit {name} (/centroids, data units):")
        print(header)
        for c in np.argsort(model["segment"]):
            print(f"  {c:<8d}{np.mean(model['labels'] == c):7.1%}  {NAMES[model['segment'][c]]:11s}"
                  + "".join(f"{v:11,.1f}" for v in model["centroids"][c]))

    checks.expect(scaled["ari"] >= 0.75, f"ARI with --standardize {scaled['ari']:.3f} >= 0.75")
    checks.expect(raw["ari"] <= 0.45, f"ARI on the raw table {raw['ari']:.3f} <= 0.45")
    checks.expect(abs(scaled["ari"] - sk["scaled"]) <= 0.05 and abs(raw["ari"] - sk["raw"]) <= 0.05,
                  "ARIs within 0.05 of scikit-learn's (raw and StandardScaler)")
    checks.expect(np.allclose(scaled["scaling/mean"], reference.mean_, rtol=1e-12)
                  and np.allclose(scaled["scaling/scale"], reference.scale_, rtol=1e-12),
                  "the model's /scaling equals StandardScaler's mean_ and scale_")
    # In data units: each centroid of the --standardize model is its cluster's mean row (up to
    # the last, sub-tolerance, centre shift: the labels come from the final assignment).
    members_mean = np.array([X[scaled["labels"] == c].mean(0) for c in range(K)])
    checks.expect(np.all(np.abs(scaled["centroids"] - members_mean) <= 0.01 * scaled["scaling/scale"]),
                  "--standardize /centroids are the clusters' means in data units (within 1 % of a std)")

    # Picture 1: the same customers, coloured by true segment and by each clustering.
    shown = np.random.default_rng(0).permutation(len(X))[:4000]  # display only
    panels = [("true segments", segment),
              (f"lloyd fit: spend bands, ARI {raw['ari']:.2f}", raw["segment"][raw["labels"]]),
              (f"lloyd fit --standardize: ARI {scaled['ari']:.2f}", scaled["segment"][scaled["labels"]])]
    pairs = [(0, 2), (1, 2)]
    # Display only: frequencies are whole numbers; a little jitter keeps them from hiding each other.
    jitter = np.random.default_rng(1).uniform(-0.3, 0.3, size=len(shown))
    figure, axes = plt.subplots(len(pairs), 3, figsize=(11, 6.4), sharex="row", sharey="row")
    for row, (fx, fy) in enumerate(pairs):
        for col, (title, colour) in enumerate(panels):
            ax = axes[row, col]
            x = X[shown, fx] + (jitter if fx == 1 else 0)
            ax.scatter(x, X[shown, fy], s=3, lw=0, c=COLOURS[colour[shown]], rasterized=True)
            ax.set_xlabel(FEATURES[fx], fontsize=8)
            if col == 0:
                ax.set_ylabel(FEATURES[fy], fontsize=8)
            if row == 0:
                ax.set_title(title, fontsize=10)
            ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, label=n) for c, n in zip(COLOURS, NAMES)]
    figure.legend(handles=handles, loc="lower center", ncol=K, fontsize=8, frameon=False,
                  title="colour: the true segment, or the one a cluster matches best (one to one)", title_fontsize=8)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    save(figure, args, "customer_segmentation")
    plt.close(figure)

    # Picture 2: profiles in data units; colour: z-score by the --standardize model's /scaling.
    figure, axes = plt.subplots(1, 3, figsize=(11, 2.6), sharey=False)
    mean, scale = scaled["scaling/mean"], scaled["scaling/scale"]
    shares = np.bincount(segment, minlength=K) / len(X)
    profile_table(axes[0], truth_means, [f"{n} {p:.0%}" for n, p in zip(NAMES, shares)], range(K),
                  mean, scale, "true segments: means")
    for ax, (title, model) in zip(axes[1:], (("lloyd fit", raw), ("lloyd fit --standardize", scaled))):
        sizes = np.bincount(model["labels"], minlength=K) / len(X)
        order = np.argsort(model["segment"])
        profile_table(ax, model["centroids"][order], [f"cluster {c} {sizes[c]:.0%}" for c in order],
                      model["segment"][order], mean, scale, f"{title}: /centroids, ARI {model['ari']:.2f}")
    figure.tight_layout()
    save(figure, args, "customer_segmentation_profiles")
    plt.close(figure)
    checks.finish()


if __name__ == "__main__":
    main()
