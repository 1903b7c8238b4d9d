#!/usr/bin/python3
"""2-D picture of a clustering: a random sample of the rows projected on their first two
principal components, coloured by the model's labels, with the centroids projected too.

    /usr/bin/python3 scripts/plot/plot_clusters.py MODEL.h5 DATA.h5:/X [OUT.png] [--sample N]

Reads only the sampled rows (sorted, one h5py fancy read), so it works on large files.
Needs python3-h5py, python3-numpy and python3-matplotlib (scripts/install-deps.sh --python).
"""
import argparse

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("data", help="FILE.h5:/dataset")
    parser.add_argument("out", nargs="?")
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    file, _, dataset = args.data.rpartition(":")
    out = args.out or args.model.rsplit(".", 1)[0] + "-clusters.png"
    with h5py.File(file, "r") as f, h5py.File(args.model, "r") as m:
        n = f[dataset].shape[0]
        rows = np.sort(np.random.default_rng(args.seed).choice(n, size=min(args.sample, n), replace=False))
        X = f[dataset][rows, :].astype(np.float64)
        labels = m["/labels"][rows]
        centroids = m["/centroids"][...].astype(np.float64)
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    axes = vt[:2].T if vt.shape[0] >= 2 else np.eye(X.shape[1], 2)
    Z, C = (X - mean) @ axes, (centroids - mean) @ axes
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab20" if len(centroids) > 10 else "tab10")
    for c in range(len(centroids)):
        members = labels == c
        ax.scatter(Z[members, 0], Z[members, 1], s=4, alpha=0.6, color=colours(c % colours.N),
                   label=f"cluster {c}" if len(centroids) <= 20 else None)
    ax.scatter(C[:, 0], C[:, 1], c="black", marker="x", s=80, label="centroids")
    ax.set(xlabel="PC 1", ylabel="PC 2",
           title=f"{len(rows)} of {n} rows on their first two principal components, k={len(centroids)}")
    ax.legend(loc="best", markerscale=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
