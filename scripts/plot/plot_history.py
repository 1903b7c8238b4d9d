#!/usr/bin/python3
"""Plots the history of a lloyd model: inertia per iteration and the squared centre shift
(Lloyd, cosine, K-medians, mini-batch with its smoothed batch inertia), inertia per pass
(K-medoids), or the total inertia of the leaves after each split (bisecting).

    /usr/bin/python3 scripts/plot/plot_history.py MODEL.h5 [OUT.png]

Needs python3-h5py and python3-matplotlib (scripts/install-deps.sh --python).
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def title(model, attrs):
    kind = text(attrs.get("algorithm", "lloyd"))
    if text(attrs.get("metric", "euclidean")) == "cosine":
        kind += ", cosine"
    return f"{model}: {kind}, k={attrs.get('k')}, final inertia {float(attrs.get('inertia', 0)):.6g}"


def plot_one_series(model, out, attrs, values, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(len(values)), values, marker="o")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.suptitle(title(model, attrs))
    return fig


def plot_iterations(model, out, attrs, history):
    inertia = history["inertia"]
    iterations = range(1, len(inertia) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(iterations, inertia, marker="o", label="batch inertia" if "ewa_inertia" in history else "inertia")
    if "ewa_inertia" in history:  # mini-batch: steps, and the smoothed batch inertia that stops it
        ax1.plot(range(1, len(history["ewa_inertia"]) + 1), history["ewa_inertia"], label="smoothed batch inertia")
        ax1.legend()
    step = "step" if "ewa_inertia" in history else "iteration"
    ax1.set(xlabel=step, ylabel="inertia", title="inertia")
    shift = history["center_shift"]
    positive = [s for s in shift if s > 0]
    if positive:  # a log axis needs positive values; a fit that converged at once has none
        ax2.semilogy(range(1, len(shift) + 1), [max(s, min(positive)) for s in shift], marker="o")
    else:
        ax2.plot(range(1, len(shift) + 1), shift, marker="o")
    if float(attrs.get("tol_absolute", 0)) > 0:
        ax2.axhline(float(attrs["tol_absolute"]), color="grey", linestyle="--", label="tol (absolute)")
        ax2.legend()
    ax2.set(xlabel=step, ylabel="summed squared centre shift", title="centre shift")
    fig.suptitle(title(model, attrs))
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model written by 'lloyd fit --output' (any mode)")
    parser.add_argument("out", nargs="?", help="PNG to write (default: MODEL-history.png)")
    args = parser.parse_args()
    out = args.out or args.model.rsplit(".", 1)[0] + "-history.png"
    try:
        with h5py.File(args.model, "r") as f:
            if "history" not in f or "inertia" not in f["history"]:
                sys.exit(f"plot_history: {args.model} has no /history/inertia: not a model written by lloyd fit")
            history = {name: f["history"][name][...] for name in f["history"]}
            attrs = dict(f.attrs)
    except OSError as error:
        sys.exit(f"plot_history: cannot read {args.model}: {error}")
    kind = text(attrs.get("algorithm", "lloyd"))
    if kind == "bisecting":
        fig = plot_one_series(args.model, out, attrs, history["inertia"], "splits (clusters - 1)",
                              "total inertia of the leaves")
    elif "center_shift" not in history:  # K-medoids: one inertia per pass, no centre shift
        fig = plot_one_series(args.model, out, attrs, history["inertia"], "pass", "inertia (sum of distances)")
    else:
        fig = plot_iterations(args.model, out, attrs, history)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
