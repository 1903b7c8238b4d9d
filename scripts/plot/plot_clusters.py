#!/usr/bin/python3
"""2-D picture of a clustering: a random sample of the rows projected on two principal axes,
coloured by the model's labels, with the centroids projected too.

    /usr/bin/python3 scripts/plot/plot_clusters.py MODEL.h5 DATA.h5:/X [OUT.png] [--sample N]

Dense data are projected on the first two principal components of the sample; sparse (CSR)
data, e.g. TF-IDF documents with thousands of terms, on the two principal axes of the
centroids (the directions that separate the clusters), without densifying the rows. A cosine
model's rows are normalised first, as the fit saw them. Reads only the sampled rows (sorted,
one h5py fancy read), so it works on large files. Needs python3-h5py, python3-numpy and
python3-matplotlib (scripts/install-deps.sh --python).
"""
import argparse
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def sampled_rows(node, rows):
    """The rows (sorted global indices) of a dense dataset, or of a CSR group as (indptr, indices, data)."""
    if isinstance(node, h5py.Dataset):
        return node[rows, :].astype(np.float64), node.shape[1]
    indptr = node["indptr"][...]
    starts, ends = indptr[rows], indptr[rows + 1]
    indices, data = node["indices"], node["data"]  # one slice per sampled row: nothing else is read
    columns = np.concatenate([indices[a:b] for a, b in zip(starts, ends)] + [np.zeros(0, dtype=np.int64)])
    values = np.concatenate([data[a:b] for a, b in zip(starts, ends)] + [np.zeros(0)]).astype(np.float64)
    local_indptr = np.concatenate([[0], np.cumsum(ends - starts)])
    return (local_indptr, columns.astype(np.int64), values), int(node.attrs["shape"][1])


def sparse_times(csr, matrix):
    """(rows x d CSR) @ (d x m dense)."""
    indptr, columns, values = csr
    out = np.zeros((len(indptr) - 1, matrix.shape[1]))
    for i in range(len(indptr) - 1):
        a, b = indptr[i], indptr[i + 1]
        out[i] = values[a:b] @ matrix[columns[a:b]]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model written by 'lloyd fit --output' (it holds /labels)")
    parser.add_argument("data", help="the data it was fitted on: FILE.h5:/dataset (dense, or a CSR group)")
    parser.add_argument("out", nargs="?", help="PNG to write (default: MODEL-clusters.png)")
    parser.add_argument("--sample", type=int, default=5000, help="rows to draw (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    file, _, dataset = args.data.rpartition(":")
    if not file:
        sys.exit("plot_clusters: DATA must be FILE.h5:/dataset")
    out = args.out or args.model.rsplit(".", 1)[0] + "-clusters.png"
    with h5py.File(file, "r") as f, h5py.File(args.model, "r") as m:
        if "labels" not in m:
            sys.exit(f"plot_clusters: {args.model} has no /labels (fit it with --output)")
        node = f[dataset]
        n = node.shape[0] if isinstance(node, h5py.Dataset) else len(node["indptr"]) - 1
        if m["labels"].shape[0] != n:
            sys.exit(f"plot_clusters: {args.model} labels {m['labels'].shape[0]} rows, {args.data} has {n}")
        rows = np.sort(np.random.default_rng(args.seed).choice(n, size=min(args.sample, n), replace=False))
        X, d = sampled_rows(node, rows)
        labels = m["labels"][rows]
        centroids = m["centroids"][...].astype(np.float64)
        metric = m.attrs.get("metric", "euclidean")
        cosine = (metric.decode() if isinstance(metric, bytes) else str(metric)) == "cosine"
    if isinstance(X, tuple):  # CSR: axes from the centroids, rows projected sparse
        mean = centroids.mean(axis=0)
        _, _, vt = np.linalg.svd(centroids - mean, full_matrices=False)
        axes = vt[:2].T if vt.shape[0] >= 2 else np.eye(d, 2)
        Z = sparse_times(X, axes)
        if cosine:
            indptr, _, values = X
            norms = np.sqrt(np.add.reduceat(values**2, indptr[:-1])) if values.size else np.zeros(len(indptr) - 1)
            norms[np.diff(indptr) == 0] = 0
            Z /= np.where(norms > 0, norms, 1)[:, None]
        Z -= mean @ axes
        where = "the two principal axes of the centroids"
    else:
        if cosine:
            norms = np.linalg.norm(X, axis=1)
            X = X / np.where(norms > 0, norms, 1)[:, None]
        mean = X.mean(axis=0)
        _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
        axes = vt[:2].T if vt.shape[0] >= 2 else np.eye(X.shape[1], 2)
        Z = (X - mean) @ axes
        where = "their first two principal components"
    C = (centroids - mean) @ axes
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab20" if len(centroids) > 10 else "tab10")
    for c in range(len(centroids)):
        members = labels == c
        ax.scatter(Z[members, 0], Z[members, 1], s=4, alpha=0.6, color=colours(c % colours.N),
                   label=f"cluster {c}" if len(centroids) <= 20 else None)
    ax.scatter(C[:, 0], C[:, 1], c="black", marker="x", s=80, label="centroids")
    ax.set(xlabel="axis 1", ylabel="axis 2",
           title=f"{len(rows)} of {n} rows on {where}, k={len(centroids)}")
    ax.legend(loc="best", markerscale=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
