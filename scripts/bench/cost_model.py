#!/usr/bin/python3
"""A cost model of `lloyd fit` per phase, from this machine's measured rates, checked against
measured fits (issue 20 item 5; docs/performance.md "A cost model").

    /usr/bin/python3 scripts/bench/cost_model.py [--lloyd build/lloyd] [--data DIR]
        [--ranks 1,2] [--repeats 3] [--problems P1,P2,P3,P4] [--json OUT.json]

1. Machine rates, measured in this run: the launcher's start-up (an MPI program that only
   starts and stops), the memory bandwidth per rank with every rank streaming (STREAM triad),
   ping-pong and MPI_Allreduce sweeps of doubles and of lloyd's exact 128-bit sums at 1-4
   ranks (tests/bench/comm_rates.cpp), and one core's GEMM peak (numpy, 1 thread).
2. Kernel constants, calibrated on shapes that are NOT the checked problems (1 rank, 1
   thread, 200k rows): the time per row of a Lloyd assignment as
       2kd / F · a1 + k · a2 + d · a3 + a4        (F: one core's GEMM peak)
   (least squares over 8 shapes); Hamerly's per-row bound work b1 on top of the share f of
   rows it scores in full (f is the data's, read from --json: distances_computed);
   k-means++ per pick and row c1 · (2 + ⌊ln k⌋) · d + c2; the read of a row (HDF5 from
   the page cache) e1 · d·s + e2 per file.
3. The model of a fit on p ranks, m = ⌈n/p⌉ rows per rank, s bytes per value:
       read    = e2 + e1 · m·d·s · (triad(1) / triad(p))       (ranks share the bandwidth)
       seed    = summary + k · (m · (c1·(2+⌊ln k⌋)·d + c2) + 2·AR(p, 16 B))
       assign  = m · (2kd/F·a1 + k·a2 + d·a3 + a4)              per Lloyd iteration
               = m · b1 + f · that                              per Hamerly iteration
       reduce  = AR128(p, 16·k·d) + AR(p, 8·k) + 3·AR(p, 16)    per iteration
       update  ≈ 0 (k·d)
       whole   = start-up(p) + read + seed + iterations · (assign + reduce)
   AR(p, bytes): the allreduce sweep at p ranks, interpolated (0 at 1 rank).
4. The check: P1-P3 (fixed iterations from the same centres, --algorithm lloyd and the
   default) and P4 (a whole default fit: wall time of mpirun) at each of --ranks, model
   against measured per phase, the error and whether it is within 25%.
5. The prediction for 64 nodes × 32 ranks on 10⁹ × 128 float32 rows, k = 1000, from this
   machine's per-core constants and stated assumptions for what this machine cannot measure
   (the network, the node's memory bandwidth, the parallel file system).
"""
import argparse
import bisect
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_blas  # noqa: E402  (before numpy: OpenBLAS at this CPU's kernels)
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "^munge"),
               OMPI_MCA_pml=os.environ.get("OMPI_MCA_pml", "ob1"))
# The problems of bench_lloyd.py (same files: same generator arguments).
PROBLEMS = {"P1": (1_000_000, 32, 64), "P2": (2_000_000, 8, 16), "P3": (200_000, 256, 256)}
CALIBRATION_ROWS = 200_000
# (d, k) of the calibration fits: none is a checked problem's shape.
CALIBRATION_SHAPES = [(4, 8), (8, 64), (16, 32), (16, 128), (64, 16), (64, 128), (128, 64), (160, 192)]
TOLERANCE = 0.25


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, env=MPI_ENV, **kwargs)
    if result.returncode != 0:
        sys.exit(f"cost_model: {' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def mpirun(ranks, *args):
    return run(["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(ranks), *args])


def wall(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


# ---------------------------------------------------------------- machine rates

class Rates:
    """The measured rates: start-up, triad, allreduce sweeps, GEMM peak of one core."""

    def __init__(self, comm_rates, lloyd, max_ranks, repeats):
        self.startup, self.triad, self.sweeps, self.pingpong = {}, {}, {}, {}
        for p in range(1, max_ranks + 1):
            self.startup[p] = statistics.median(
                wall(lambda: mpirun(p, comm_rates, "--startup-only"))[0] for _ in range(repeats + 2))
            for line in mpirun(p, comm_rates).splitlines():
                row = json.loads(line)
                if row["kind"] == "memory_triad":
                    self.triad[p] = row["bytes"] / row["seconds"]
                elif row["kind"] == "pingpong":
                    self.pingpong.setdefault(p, []).append((row["bytes"], row["seconds"]))
                else:
                    self.sweeps.setdefault((row["kind"], p), []).append((row["bytes"], row["seconds"]))
        matrix = np.random.default_rng(0).standard_normal((2048, 2048))
        self.gemm = {}
        with threadpool_limits(1):
            for dtype in (np.float32, np.float64):
                a = matrix.astype(dtype)
                a @ a
                best = min(wall(lambda: a @ a)[0] for _ in range(3))
                self.gemm[np.dtype(dtype).itemsize] = 2 * 2048 ** 3 / best

    def allreduce(self, ranks, nbytes, kind="allreduce_double"):
        """Seconds of one allreduce of `nbytes` at `ranks` ranks, interpolated in the sweep."""
        if ranks == 1 or nbytes == 0:
            return 0.0
        sweep = self.sweeps[(kind, ranks)]
        sizes = [size for size, _ in sweep]
        i = bisect.bisect_left(sizes, nbytes)
        if i == 0:
            return sweep[0][1]
        if i == len(sweep):  # beyond the sweep: its last bandwidth
            return sweep[-1][1] * nbytes / sweep[-1][0]
        (s0, t0), (s1, t1) = sweep[i - 1], sweep[i]
        return t0 + (t1 - t0) * (nbytes - s0) / (s1 - s0)

    def summary(self):
        lines = [f"  one core's GEMM peak (numpy 2048³, 1 thread): float32 {self.gemm[4] / 1e9:.1f}, "
                 f"float64 {self.gemm[8] / 1e9:.1f} GFLOP/s"]
        for p in sorted(self.triad):
            small = self.allreduce(p, 16, "allreduce_double") * 1e6
            big = self.allreduce(p, 1 << 22, "allreduce_int128")
            pp = dict(self.pingpong.get(p, []))
            lines.append(f"  {p} rank(s): start-up {self.startup[p]:.3f} s, triad {self.triad[p] / 1e9:.1f} GB/s per rank"
                         + (f", allreduce 16 B {small:.2f} µs, 4 MiB of int128 sums {big * 1e3:.2f} ms "
                            f"({(1 << 22) / big / 1e9:.1f} GB/s), ping-pong 16 B {pp[16] * 1e6:.2f} µs, "
                            f"4 MiB {(1 << 22) / pp[1 << 22] / 1e9:.1f} GB/s" if p > 1 else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------- lloyd runs

def generate(lloyd, path, n, d, centers):
    if not os.path.exists(path):
        mpirun(2, lloyd, "generate", "--output", path, "--samples", str(n), "--features", str(d),
               "--centers", str(centers), "--dtype", "float32", "--cluster-std", "1.0", "--seed", "7")
    return path


def fit(lloyd, ranks, path, k, *extra, threads=1):
    """lloyd fit --json at `ranks` ranks × `threads`: (wall seconds of mpirun, the JSON)."""
    seconds, out = wall(lambda: mpirun(ranks, lloyd, "fit", "--input", path + ":/X", "--k", str(k), "--json",
                                       "--threads", str(threads), *extra))
    return seconds, json.loads(out.strip().splitlines()[-1])


def median_fit(repeats, *args, **kwargs):
    """The run whose iteration time is the median of `repeats` runs."""
    runs = [fit(*args, **kwargs) for _ in range(repeats)]
    runs.sort(key=lambda run: run[0])
    return runs[len(runs) // 2]


def per_iteration(result, *phases):
    return sum(result["phases"][phase] for phase in phases) / max(result["n_iter"], 1)


class Model:
    def __init__(self, rates):
        self.rates = rates

    # -- calibration (1 rank, 1 thread)
    def calibrate(self, lloyd, data, repeats):
        rows, times, hamerly = [], [], []
        for d, k in CALIBRATION_SHAPES:
            path = generate(lloyd, os.path.join(data, f"calibration-{CALIBRATION_ROWS}x{d}.h5"),
                            CALIBRATION_ROWS, d, 32)
            common = ("--init", "forgy", "--max-iter", "8", "--tol", "0", "--seed", "3")
            _, lloyd_run = median_fit(repeats, lloyd, 1, path, k, *common, "--algorithm", "lloyd")
            _, hamerly_run = median_fit(repeats, lloyd, 1, path, k, *common, "--algorithm", "hamerly")
            rows.append([2 * k * d / self.rates.gemm[4], k, d, 1])
            times.append(per_iteration(lloyd_run, "assign") / CALIBRATION_ROWS)
            hamerly.append((per_iteration(hamerly_run, "assign") / CALIBRATION_ROWS, hamerly_run["distances_computed"],
                            times[-1]))
        self.assign_terms = np.linalg.lstsq(np.array(rows), np.array(times), rcond=None)[0]
        # Hamerly: time per row = b1 + f · (Lloyd's time per row)
        self.bound_per_row = statistics.median(h - f * t for h, f, t in hamerly)
        # k-means++: per pick and row c1 · trials · d + c2 (init phase less the data summary,
        # itself one read of the shard: measured as forgy's init phase)
        seeding_rows, seeding_times = [], []
        for d, k in ((16, 64), (64, 32), (128, 128)):
            path = os.path.join(data, f"calibration-{CALIBRATION_ROWS}x{d}.h5")
            _, forgy = median_fit(repeats, lloyd, 1, path, k, "--init", "forgy", "--max-iter", "1")
            _, plus = median_fit(repeats, lloyd, 1, path, k, "--init", "k-means++", "--max-iter", "1")
            seeding_rows.append([trials(k) * d * k * CALIBRATION_ROWS, k * CALIBRATION_ROWS])
            seeding_times.append(plus["phases"]["init"] - forgy["phases"]["init"])
            self.summary_per_value = forgy["phases"]["init"] / (CALIBRATION_ROWS * d)
        self.seeding_terms = np.linalg.lstsq(np.array(seeding_rows), np.array(seeding_times), rcond=None)[0]
        # the read: e1 per byte, e2 per file (two file sizes)
        reads = []
        for d in (16, 128):
            path = os.path.join(data, f"calibration-{CALIBRATION_ROWS}x{d}.h5")
            _, result = median_fit(repeats, lloyd, 1, path, 8, "--init", "forgy", "--max-iter", "1")
            reads.append((CALIBRATION_ROWS * d * 4, result["phases"]["io"]))
        (b0, t0), (b1, t1) = reads
        self.read_per_byte = max((t1 - t0) / (b1 - b0), 0.0)
        self.read_per_file = max(t0 - self.read_per_byte * b0, 0.0)

    def describe(self):
        a1, a2, a3, a4 = self.assign_terms
        c1, c2 = self.seeding_terms
        return (f"  Lloyd row: 2kd/F × {a1:.3f} + k × {a2 * 1e9:.3f} ns + d × {a3 * 1e9:.3f} ns + {a4 * 1e9:.2f} ns\n"
                f"  Hamerly bound work per row {self.bound_per_row * 1e9:.2f} ns; k-means++ per pick and row: "
                f"{c1 * 1e9:.4f} ns × (2+⌊ln k⌋)·d + {c2 * 1e9:.3f} ns; data summary {self.summary_per_value * 1e9:.3f} ns "
                f"per value\n  read: {self.read_per_byte * 1e9:.4f} ns per byte ({1 / max(self.read_per_byte, 1e-30) / 1e9:.2f}"
                f" GB/s) + {self.read_per_file * 1e3:.1f} ms per file")

    # -- the model
    def assign(self, m, d, k, fraction=None, gemm=None):
        gemm = gemm or self.rates.gemm[4]
        a1, a2, a3, a4 = self.assign_terms
        lloyd_row = 2 * k * d / gemm * a1 + k * a2 + d * a3 + a4
        row = lloyd_row if fraction is None else self.bound_per_row + fraction * lloyd_row
        return m * row

    def reduce(self, p, d, k, allreduce=None):
        allreduce = allreduce or self.rates.allreduce
        return (allreduce(p, 16 * k * d, "allreduce_int128") + allreduce(p, 8 * k, "allreduce_double")
                + 3 * allreduce(p, 16, "allreduce_double"))

    def seed(self, p, m, d, k, allreduce=None, summary_scale=1.0):
        allreduce = allreduce or self.rates.allreduce
        c1, c2 = self.seeding_terms
        summary = self.summary_per_value * m * d * summary_scale
        return summary + k * (m * (c1 * trials(k) * d + c2) + 2 * allreduce(p, 16, "allreduce_double"))

    def read(self, p, m, d, s=4):
        return self.read_per_file + self.read_per_byte * m * d * s * self.rates.triad[1] / self.rates.triad[p]


def trials(k):
    return 2 + int(math.log(k))


# ---------------------------------------------------------------- the check

def check(model, lloyd, data, ranks, repeats, problems):
    rows = []

    def add(name, phase, predicted, measured):
        error = predicted / measured - 1 if measured > 0 else float("nan")
        rows.append((name, phase, predicted, measured, error))

    for name in [p for p in problems if p in PROBLEMS]:
        n, d, k = PROBLEMS[name]
        path = generate(lloyd, os.path.join(data, f"{name}-{n}x{d}.h5"), n, d, k)
        for p in ranks:
            m = -(-n // p)
            common = ("--init", "forgy", "--seed", "1", "--max-iter", "20", "--tol", "0")
            for algorithm in ("lloyd", "auto"):
                _, result = median_fit(repeats, lloyd, p, path, k, *common, "--algorithm", algorithm)
                fraction = None if algorithm == "lloyd" else result["distances_computed"]
                label = f"{name} {p}r {result['algorithm']}"
                add(label, "assign /iter", model.assign(m, d, k, fraction), per_iteration(result, "assign"))
                if p > 1:
                    add(label, "reduce /iter", model.reduce(p, d, k), per_iteration(result, "reduce"))
                add(label, "iteration", model.assign(m, d, k, fraction) + model.reduce(p, d, k),
                    per_iteration(result, "assign", "reduce", "update"))
    if "P4" in problems:
        n, d, k = PROBLEMS["P1"]
        path = generate(lloyd, os.path.join(data, f"P1-{n}x{d}.h5"), n, d, k)
        for p in ranks:
            m = -(-n // p)
            seconds, result = median_fit(repeats, lloyd, p, path, k, "--seed", "0")
            label = f"P4 {p}r default"
            read, seed = model.read(p, m, d), model.seed(p, m, d, k)
            iteration = model.assign(m, d, k, result["distances_computed"]) + model.reduce(p, d, k)
            add(label, "read", read, result["phases"]["io"])
            add(label, "seed", seed, result["phases"]["init"])
            add(label, f"{result['n_iter']} iterations", result["n_iter"] * iteration,
                sum(result["phases"][x] for x in ("assign", "reduce", "update")))
            add(label, "whole (wall)", model.rates.startup[p] + read + seed + result["n_iter"] * iteration, seconds)
    return rows


def print_check(rows):
    print(f"\n{'problem':22s} {'phase':16s} {'model':>10s} {'measured':>10s} {'error':>8s}")
    within = 0
    for name, phase, predicted, measured, error in rows:
        ok = abs(error) <= TOLERANCE
        within += ok
        print(f"{name:22s} {phase:16s} {fmt(predicted):>10s} {fmt(measured):>10s} {error * 100:+7.1f}%"
              f"{'' if ok else '  (outside 25%)'}")
    print(f"{within} of {len(rows)} within {TOLERANCE * 100:.0f}%")
    return within, len(rows)


def fmt(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


# ---------------------------------------------------------------- at scale

# What this machine cannot measure, stated: a 2024-class HPC node and network.
SCALE = {
    "nodes": 64, "ranks_per_node": 32, "n": 10 ** 9, "d": 128, "k": 1000,
    "node_triad_bytes_per_s": 200e9,      # STREAM of a 2-socket node (e.g. 2 × 8 DDR5 channels)
    "network_latency_s": 2e-6,           # InfiniBand HDR/NDR, MPI small-message latency
    "network_bytes_per_s": 12.5e9,       # 100 Gb/s per node injection
    "file_system_bytes_per_s": 100e9,    # a Lustre/GPFS file system, aggregate
    "hamerly_fraction": 0.2,             # share of rows scored in full (P1: 0.21)
    "iterations": 30,
}


def at_scale(model):
    s = SCALE
    p = s["nodes"] * s["ranks_per_node"]
    n, d, k = s["n"], s["d"], s["k"]
    m = -(-n // p)

    def allreduce(ranks, nbytes, kind=None):
        # Rabenseifner (reduce-scatter + allgather) across nodes, latency term per round
        return 2 * math.log2(ranks) * s["network_latency_s"] + 2 * nbytes * (ranks - 1) / ranks / s["network_bytes_per_s"]

    per_rank_triad = s["node_triad_bytes_per_s"] / s["ranks_per_node"]
    summary_scale = max(1.0, model.rates.triad[1] / per_rank_triad)
    read = n * d * 4 / s["file_system_bytes_per_s"]
    seed_pp = model.seed(p, m, d, k, allreduce=allreduce, summary_scale=summary_scale)
    # k-means++'s passes stream the shard once per pick: bound below by the rank's bandwidth
    seed_pp = max(seed_pp, k * m * d * 4 / per_rank_triad)
    lloyd_iteration = model.assign(m, d, k) + model.reduce(p, d, k, allreduce=allreduce)
    hamerly_iteration = model.assign(m, d, k, s["hamerly_fraction"]) + model.reduce(p, d, k, allreduce=allreduce)
    kpar_rounds, oversampling = 5, 2 * k
    candidates = kpar_rounds * oversampling
    # k-means||: each round scores the rows against ~ℓ new candidates (the assignment's kernels),
    # then every rank reduces the ~5ℓ candidates to k with k-means++ on them (serial)
    kpar = (model.summary_per_value * m * d * summary_scale + kpar_rounds * (model.assign(m, d, oversampling)
            + allreduce(p, oversampling * d * 4 * 2)) + candidates * (model.seeding_terms[0] * trials(k) * d
            + model.seeding_terms[1]) * k)
    write = n * 4 / s["file_system_bytes_per_s"]
    print(f"\nPrediction: {s['nodes']} nodes × {s['ranks_per_node']} ranks = {p} ranks, {n:.0e} × {d} float32, "
          f"k = {k} ({m} rows = {m * d * 4 / 2**20:.0f} MiB per rank), this machine's core constants and:")
    print("  " + ", ".join(f"{key} {value:g}" for key, value in s.items() if key not in ("nodes", "ranks_per_node", "n", "d", "k")))
    print(f"  read {fmt(read)}; seed: k-means++ {fmt(seed_pp)}, k-means|| {fmt(kpar)}; "
          f"per iteration: Lloyd {fmt(lloyd_iteration)}, Hamerly {fmt(hamerly_iteration)} "
          f"(of which reduce {fmt(model.reduce(p, d, k, allreduce=allreduce))}); write labels {fmt(write)}")
    whole = read + min(seed_pp, kpar) + s["iterations"] * hamerly_iteration + write
    print(f"  a whole fit with k-means|| and {s['iterations']} Hamerly iterations: {fmt(whole)}")
    return {"ranks": p, "read": read, "seed_kmeans++": seed_pp, "seed_kmeans||": kpar, "lloyd_iteration": lloyd_iteration,
            "hamerly_iteration": hamerly_iteration, "write": write, "whole": whole}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--comm-rates", default=os.path.join(ROOT, "build", "tests", "comm_rates"))
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lloyd-bench"))
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--max-ranks", type=int, default=4, help="ranks of the allreduce sweeps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", default="P1,P2,P3,P4")
    parser.add_argument("--json", help="write the rates, constants, check and prediction here")
    args = parser.parse_args()
    os.makedirs(args.data, exist_ok=True)
    if not os.path.exists(args.comm_rates):
        run(["cmake", "--build", os.path.dirname(os.path.dirname(args.comm_rates)), "--target", "comm_rates"])
    print(f"load average before: {os.getloadavg()[0]:.2f}; OpenBLAS core: {native_blas.CHOSEN}")
    rates = Rates(args.comm_rates, args.lloyd, args.max_ranks, args.repeats)
    print("Machine rates:\n" + rates.summary())
    model = Model(rates)
    model.calibrate(args.lloyd, args.data, args.repeats)
    print("Calibrated (1 rank × 1 thread, 200k rows, shapes " + ", ".join(f"d={d} k={k}" for d, k in CALIBRATION_SHAPES)
          + "):\n" + model.describe())
    rows = check(model, args.lloyd, args.data, [int(r) for r in args.ranks.split(",")], args.repeats,
                 args.problems.split(","))
    within, total = print_check(rows)
    prediction = at_scale(model)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"check": rows, "within": within, "total": total, "prediction": prediction,
                       "assign_terms": list(model.assign_terms), "seeding_terms": list(model.seeding_terms)},
                      out, default=lambda value: value.item())  # numpy scalars


if __name__ == "__main__":
    main()
