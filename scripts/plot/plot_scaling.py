#!/usr/bin/python3
"""Plots a scaling summary (scripts/scaling.py) to PNG: speedup, efficiency and the phase
breakdown per rank count, one figure per mode (strong.png, weak.png).

    /usr/bin/python3 scripts/plot/plot_scaling.py scaling-summary.csv OUT_DIR
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PHASES = ["assign", "reduce", "update"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", help="scaling-summary.csv written by scripts/scaling.py")
    parser.add_argument("out_dir", help="directory for strong.png and weak.png")
    args = parser.parse_args()
    with open(args.summary) as f:
        rows = list(csv.DictReader(f))
    for mode in sorted({r["mode"] for r in rows}):
        data = [r for r in rows if r["mode"] == mode]
        ranks = [int(r["ranks"]) for r in data]
        fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
        if mode == "strong":
            ax1.plot(ranks, [float(r["speedup"]) for r in data], marker="o", label="lloyd")
            ax1.plot(ranks, ranks, linestyle="--", color="grey", label="ideal")
            ax1.set(xlabel="ranks", ylabel="speedup (per iteration)", title="strong scaling: speedup")
        else:
            ax1.plot(ranks, [float(r["per_iteration"]) * 1e3 for r in data], marker="o")
            ax1.set(xlabel="ranks", ylabel="ms per iteration", ylim=(0, None),
                    title="weak scaling: time per iteration")
        ax1.legend() if mode == "strong" else None
        ax2.plot(ranks, [100 * float(r["efficiency"]) for r in data], marker="o")
        ax2.axhline(100, linestyle="--", color="grey")
        ax2.set(xlabel="ranks", ylabel="parallel efficiency (%)", ylim=(0, 110),
                title=f"{mode} scaling: efficiency")
        bottom = [0.0] * len(data)
        for phase in PHASES:
            values = [float(r[phase]) for r in data]
            ax3.bar([str(p) for p in ranks], values, bottom=bottom, label=phase)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax3.set(xlabel="ranks", ylabel="seconds (max over ranks)", title="phases of the Lloyd loop")
        ax3.legend()
        for ax in (ax1, ax2):
            ax.set_xticks(ranks)
        rows_text = data[0]["rows"] if mode == "strong" else f"{int(data[0]['rows'])} per rank"
        fig.suptitle(f"lloyd fit, {mode} scaling ({rows_text} rows)")
        fig.tight_layout()
        out = os.path.join(args.out_dir, f"{mode}.png")
        fig.savefig(out, dpi=110)
        print(out)


if __name__ == "__main__":
    main()
