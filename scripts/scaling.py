#!/usr/bin/python3
"""Strong- and weak-scaling experiments for lloyd fit, with or without Slurm.

    /usr/bin/python3 scripts/scaling.py [--mode strong|weak|both] [--max-ranks P] ...

Strong scaling: one problem (--rows rows) fitted on 1, 2, ..., P ranks.
Weak scaling:   --rows rows *per rank* on 1, 2, ..., P ranks.
Every fit runs --iterations Lloyd iterations from forgy centres (tol 0, so the work per run
is fixed); each point is repeated --repeats times and the median kept. The per-phase
timings come from `lloyd fit --json` (maximum over ranks). Writes into --out:
  scaling.csv           one row per run (mode, ranks, rows, phase seconds, ...)
  scaling-summary.csv   medians, speedup and parallel efficiency per (mode, ranks)
  strong.png, weak.png  speedup / efficiency / phase breakdown (scripts/plot/plot_scaling.py)
Inside a Slurm allocation the runs use `srun --mpi=pmix -n P`, otherwise
`mpirun --oversubscribe -n P` (override with --launcher).
"""
import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ["io", "init", "assign", "reduce", "update", "write"]


def launcher_command(kind, ranks):
    if kind == "srun":
        return ["srun", "--mpi=pmix", "-n", str(ranks)]
    return ["mpirun", "--oversubscribe", "-n", str(ranks)]


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"scaling: command failed ({result.returncode}): {shlex.join(command)}\n"
                 f"{result.stderr.strip()}")
    return result.stdout


def generate(args, path, rows, ranks):
    if os.path.exists(path):
        return
    run(launcher_command(args.launcher, ranks) +
        [args.lloyd, "generate", "--output", path, "--samples", str(rows),
         "--features", str(args.features), "--centers", str(args.k), "--dtype", args.dtype,
         "--cluster-std", "2.0", "--seed", "1"])


def fit(args, path, ranks):
    out = run(launcher_command(args.launcher, ranks) +
              [args.lloyd, "fit", "--input", path + ":/X", "--k", str(args.k), "--init", "forgy",
               "--max-iter", str(args.iterations), "--tol", "0", "--seed", "1", "--json",
               "--algorithm", args.algorithm, "--threads", "1"])
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["strong", "weak", "both"], default="both")
    parser.add_argument("--max-ranks", type=int,
                        default=int(os.environ.get("SLURM_NTASKS", os.cpu_count() or 1)))
    parser.add_argument("--rows", type=int, default=400_000,
                        help="rows of the strong problem; rows per rank of the weak one")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--algorithm", default="auto", help="lloyd | hamerly | yinyang | auto (as lloyd fit)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--out", default="scaling-results")
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--launcher", choices=["auto", "mpirun", "srun"], default="auto")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    if args.launcher == "auto":
        args.launcher = "srun" if os.environ.get("SLURM_JOB_ID") else "mpirun"
    os.makedirs(args.out, exist_ok=True)
    ranks_list = list(range(1, args.max_ranks + 1))
    modes = ["strong", "weak"] if args.mode == "both" else [args.mode]

    rows_out = []
    for mode in modes:
        for ranks in ranks_list:
            rows = args.rows if mode == "strong" else args.rows * ranks
            path = os.path.join(args.out, f"data-{rows}x{args.features}-{args.dtype}.h5")
            generate(args, path, rows, args.max_ranks)
            for repeat in range(args.repeats):
                started = time.time()
                result = fit(args, path, ranks)
                phases = result["phases"]
                per_iteration = (phases["assign"] + phases["reduce"] + phases["update"]) / result["n_iter"]
                rows_out.append({"mode": mode, "ranks": ranks, "rows": rows,
                                 "features": args.features, "k": args.k, "n_iter": result["n_iter"],
                                 "repeat": repeat, "seconds": result["seconds"],
                                 **{p: phases[p] for p in PHASES},
                                 "per_iteration": per_iteration})
                print(f"scaling: {mode:6s} ranks={ranks:3d} rows={rows:10d} repeat={repeat} "
                      f"{per_iteration * 1e3:8.2f} ms/iteration  total {result['seconds']:.2f} s "
                      f"(wall {time.time() - started:.1f} s)", flush=True)

    with open(os.path.join(args.out, "scaling.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows_out[0]))
        writer.writeheader()
        writer.writerows(rows_out)

    summary = []
    for mode in modes:
        base = None
        for ranks in ranks_list:
            runs = [r for r in rows_out if r["mode"] == mode and r["ranks"] == ranks]
            median = {key: statistics.median(r[key] for r in runs)
                      for key in ["seconds", "per_iteration"] + PHASES}
            base = base or median["per_iteration"]
            # Strong: speedup t1/tp, efficiency speedup/p. Weak: efficiency t1/tp.
            speedup = base / median["per_iteration"] if mode == "strong" else ranks * base / median["per_iteration"]
            summary.append({"mode": mode, "ranks": ranks, "rows": runs[0]["rows"], **median,
                            "speedup": speedup, "efficiency": speedup / ranks})
    with open(os.path.join(args.out, "scaling-summary.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    for s in summary:
        print(f"scaling: {s['mode']:6s} ranks={s['ranks']:3d} {s['per_iteration'] * 1e3:8.2f} ms/iteration"
              f"  speedup {s['speedup']:.2f}  efficiency {s['efficiency'] * 100:.0f}%")
    if not args.no_plot:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "plot", "plot_scaling.py"),
                        os.path.join(args.out, "scaling-summary.csv"), args.out], check=True)


if __name__ == "__main__":
    main()
