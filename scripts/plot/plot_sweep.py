#!/usr/bin/python3
"""Plots a `lloyd choose-k` sweep: elbow, silhouette, Calinski-Harabasz / Davies-Bouldin and
the gap statistic (with its s_k error bars); each panel marks its recommended K.

    /usr/bin/python3 scripts/plot/plot_sweep.py SWEEP.h5 [OUT.png]

Needs python3-h5py and python3-matplotlib (scripts/install-deps.sh --python).
"""
import argparse

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def mark(ax, k, label):
    if k > 0:
        ax.axvline(k, color="tab:red", linestyle="--", linewidth=1)
        ax.text(k, 0.98, f" {label} K={k}", color="tab:red", va="top", transform=ax.get_xaxis_transform())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="a sweep file written by 'lloyd choose-k --output'")
    parser.add_argument("out", nargs="?", help="PNG to write (default: SWEEP.png)")
    args = parser.parse_args()
    sweep = args.sweep
    out = args.out or sweep.rsplit(".", 1)[0] + ".png"
    with h5py.File(sweep, "r") as f:
        data = {name: f[name][...] for name in f if isinstance(f[name], h5py.Dataset)}
        attrs = dict(f.attrs)
    k = data["k"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    ax.semilogy(k, data["inertia"], marker="o")
    ax.set(xlabel="K", ylabel="inertia (log scale)", title="elbow (kneedle on log inertia)")
    mark(ax, int(attrs["recommended_k_elbow"]), "elbow")

    ax = axes[0, 1]
    sil, err = data["silhouette"], data["silhouette_stderr"]
    if np.isfinite(sil).any():
        if int(attrs.get("silhouette_sampled", 0)):
            ax.errorbar(k, sil, yerr=err, marker="o", capsize=3)
            title = f"silhouette (sample of {int(attrs['silhouette_sample_size'])} rows, ±1 s.e.)"
        else:
            ax.plot(k, sil, marker="o")
            title = "silhouette (exact)"
        ax.set(xlabel="K", ylabel="mean silhouette", title=title)
        mark(ax, int(attrs["recommended_k_silhouette"]), "max")
    else:
        ax.set_title("silhouette (not computed)")

    ax = axes[1, 0]
    ch, db = data["calinski_harabasz"], data["davies_bouldin"]
    ax.plot(k, ch, marker="o", color="tab:blue", label="Calinski-Harabasz")
    ax.set(xlabel="K", ylabel="Calinski-Harabasz (higher is better)", title="Calinski-Harabasz / Davies-Bouldin")
    twin = ax.twinx()
    twin.plot(k, db, marker="s", color="tab:orange", label="Davies-Bouldin")
    twin.set_ylabel("Davies-Bouldin (lower is better)")
    mark(ax, int(attrs["recommended_k_calinski_harabasz"]), "CH")
    lines = ax.get_lines()[:1] + twin.get_lines()[:1]
    ax.legend(lines, [line.get_label() for line in lines], loc="lower right")

    ax = axes[1, 1]
    gap, s = data["gap"], data["gap_s"]
    if np.isfinite(gap).any():
        ax.errorbar(k, gap, yerr=s, marker="o", capsize=3)
        ax.set(xlabel="K", ylabel="Gap(K) ± s_K",
               title=f"gap statistic ({int(attrs['gap_refs'])} {attrs['gap_reference'].decode() if isinstance(attrs['gap_reference'], bytes) else attrs['gap_reference']} references)")
        mark(ax, int(attrs["recommended_k_gap"]), "Tibshirani")
    else:
        ax.set_title("gap statistic (not computed)")
    source = attrs.get("input", b"")
    source = source.decode() if isinstance(source, bytes) else source
    fig.suptitle(f"lloyd choose-k: {source}  (n={int(attrs['n_samples'])}, d={int(attrs['n_features'])})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
