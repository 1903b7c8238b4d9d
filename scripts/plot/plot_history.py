#!/usr/bin/python3
"""Plots the per-iteration history of a lloyd model: inertia and squared centre shift.

    /usr/bin/python3 scripts/plot/plot_history.py MODEL.h5 [OUT.png]

Needs python3-h5py and python3-matplotlib (scripts/install-deps.sh --python).
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_splits(model, out, inertia, attrs):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(len(inertia)), inertia, marker="o")
    ax.set(xlabel="splits (clusters - 1)", ylabel="total inertia of the leaves",
           title=f"bisecting ({attrs.get('bisecting_strategy')})")
    fig.suptitle(f"{model}: k={attrs.get('k')}, final inertia {attrs.get('inertia', 0):.6g}")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else model.rsplit(".", 1)[0] + "-history.png"
    with h5py.File(model, "r") as f:
        inertia = f["/history/inertia"][...]
        attrs = dict(f.attrs)
        if "/history/center_shift" not in f:  # a bisecting model: inertia after each split
            return plot_splits(model, out, inertia, attrs)
        shift = f["/history/center_shift"][...]
    iterations = range(1, len(inertia) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(iterations, inertia, marker="o")
    ax1.set(xlabel="iteration", ylabel="inertia (assignment step)", title="inertia")
    ax2.semilogy(iterations, shift, marker="o")
    if attrs.get("tol_absolute", 0) > 0:
        ax2.axhline(attrs["tol_absolute"], color="grey", linestyle="--", label="tol (absolute)")
        ax2.legend()
    ax2.set(xlabel="iteration", ylabel="summed squared centre shift", title="centre shift")
    fig.suptitle(f"{model}: k={attrs.get('k')}, final inertia {attrs.get('inertia', 0):.6g}")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
