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
   thread, 200k rows, as many blobs as centres; least squares with every constant ≥ 0),
   separately for each of the assignment's kernels (direct for d ≤ 16, GEMM-form tiles
   above), k̂ = k padded to the kernel's width (32 centres a tile panel, 16 a direct column):
   the time per row of a Lloyd assignment L = α·k̂·d + β·k̂ + δ·d + γ (S = α·k̂·d + β·k̂ its
   scoring); of a whole Hamerly fit of N iterations, per row, a·L (the first pass: every row
   scored, its bounds set) + b₀·N (the bound sweeps) + b₁·d·t + r·(η·S + ε), t the rows
   tightened per row over the fit (one distance each) and r the rows scored against every
   centre after the first pass (from `distances_computed` and `rows_rescored` of --json),
   calibrated on fits from forgy's centres of 3, 12 and 30 iterations and from k-means++'s
   to convergence; the reduction beyond its allreduces r₀ + r₁·k·d + λ·(the assignment),
   at each rank count (λ: the fastest rank's wait for a slower one), and per pass over the
   rows to relocate an empty cluster (`relocation_passes`) ρ per row and feature; the
   slow-down s(p) of a rank's assignment when p ranks are busy (per kernel, the median over
   its shapes of the same fit at p ranks and p times the rows); k-means++ (k < 128) per pick
   and row c₁·(2 + ⌊ln k⌋)·d + c₂; the read of the shard e₁ per byte + e₂, the write of a
   model w₁ per label byte + w₂ at each rank count.
3. The model of a fit on p ranks, m = ⌈n/p⌉ rows per rank, t bytes per value:
       read    = e₂ + e₁ · m·d·t
       seed    = summary + k · (m · (c₁·(2+⌊ln k⌋)·d + c₂) · s(p) + 2·AR(p, 16 B))
       assign  = m · L · s(p)                                           per Lloyd iteration
               = m · (a·L + b₀·N + b₁·d·t + r·(η·S + ε)) · s(p) / N     per Hamerly iteration
       reduce  = AR128(p, 16·k·d) + AR(p, 8·k) + 3·AR(p, 16) + r₀ + r₁·k·d + λ·assign
                 + (passes / iterations)·m·d·ρ
       write   = w₂(p) + w₁(p) · 4m
       whole   = start-up(p) + read + seed + iterations · (assign + reduce) + write
   AR(p, bytes): the allreduce sweep at p ranks, interpolated (0 at 1 rank).
4. The check: P1-P3 (20 iterations from the same centres, --algorithm lloyd and the
   default) and P4 (a whole default fit writing its model: wall time of mpirun) at each of
   --ranks, model against measured per phase, the error and whether it is within 25%. The
   measured reduction is the fastest rank's (`phases_min`: the communication; the others also
   wait there for the slowest rank), an iteration the slowest rank's assignment plus that.
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
from scipy.optimize import nnls  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "^munge"),
               OMPI_MCA_pml=os.environ.get("OMPI_MCA_pml", "ob1"))
# The problems of bench_lloyd.py (same files: same generator arguments).
PROBLEMS = {"P1": (1_000_000, 32, 64), "P2": (2_000_000, 8, 16), "P3": (200_000, 256, 256)}
CALIBRATION_ROWS = 200_000
# (d, k) of the calibration fits: none is a checked problem's shape.
HAMERLY_ITERATIONS = (3, 12, 30)  # fit lengths per calibration shape
CALIBRATION_SHAPES = [(4, 8), (6, 40), (8, 64), (10, 96), (12, 24), (16, 128),
                      (24, 96), (48, 32), (64, 16), (64, 128), (128, 64), (160, 192)]
# (d, k) of the k-means++ calibration: below 128 features and centres (no pruning structures).
SEEDING_SHAPES = [(16, 64), (64, 32), (96, 100)]
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


def regime(d):
    """The assignment kernel lloyd runs at d features (kmeans/assign.hpp, score_kernel): up to
    16 features the direct kernel (rows transposed into register lanes, no product), above
    them the GEMM-form tiles. Each has its own constants."""
    return "direct" if d <= 16 else "tiles"


def padded(k, d):
    """The centres a kernel scores at once: the tiles' panels hold 32 float32 centres, the
    direct kernel's columns 16 (simd/kernels.hpp); a partial panel costs a whole one."""
    width = 16 if regime(d) == "direct" else 32
    return -(-k // width) * width


def lloyd_columns(d, k):
    """What a Lloyd row's time is a combination of: k̂·d multiply-adds, k̂ decisions, d
    per-feature steps and one row (k̂ = padded(k, d)); the constants are α, β, δ, γ."""
    return [padded(k, d) * d, padded(k, d), d, 1]


def nonnegative_fit(columns, times):
    """Least squares with every constant ≥ 0 (a negative cost per centre or per row is not a
    cost: unconstrained least squares made some, and extrapolated badly)."""
    return nnls(np.array(columns, dtype=float), np.array(times, dtype=float))[0]


class Model:
    def __init__(self, rates):
        self.rates = rates

    # -- calibration (1 rank × 1 thread on shapes that are not checked problems; the
    #    slow-down of p busy ranks from one shape per kernel at p ranks)
    def calibrate(self, lloyd, data, repeats, ranks, scratch):
        common = ("--init", "forgy", "--max-iter", "8", "--tol", "0", "--seed", "3")
        path_of = {}
        hamerly_rows, one_rank, lloyd_runs = {}, {}, {}
        for d, k in CALIBRATION_SHAPES:
            # blobs as many as the centres, as in the checked problems: how many rows Hamerly's
            # bounds settle depends on it (Lloyd's time hardly does)
            path_of[d, k] = generate(lloyd, os.path.join(data, f"calibration-{CALIBRATION_ROWS}x{d}-{k}.h5"),
                                     CALIBRATION_ROWS, d, k)
            _, lloyd_run = median_fit(repeats, lloyd, 1, path_of[d, k], k, *common, "--algorithm", "lloyd")
            one_rank[d, k] = per_iteration(lloyd_run, "assign")
            lloyd_runs[d, k] = lloyd_run
            # Hamerly from forgy's centres at several lengths, and from k-means++'s to convergence
            # (few rows rescored after the first pass), so that its first pass (every row
            # scored), its sweeps and its rescored rows can be told apart
            starts = [("--init", "forgy", "--tol", "0", "--max-iter", str(iterations)) for iterations in HAMERLY_ITERATIONS]
            for start in starts + [("--init", "k-means++")]:
                _, hamerly_run = median_fit(repeats, lloyd, 1, path_of[d, k], k, *start, "--seed", "3",
                                            "--algorithm", "hamerly")
                hamerly_rows.setdefault(regime(d), []).append(
                    (d, k, hamerly_work(hamerly_run, k), hamerly_run["phases"]["assign"] / CALIBRATION_ROWS))
        # Lloyd, per row: α·k·d + β·k + δ·d + γ (multiply-adds, per-centre decisions, per-feature
        # work: the row's copy into a tile, its exact distance, its fixed-point sums; the rest)
        self.lloyd_terms = {}
        for name in ("direct", "tiles"):
            shapes = [(d, k) for d, k in CALIBRATION_SHAPES if regime(d) == name]
            self.lloyd_terms[name] = nonnegative_fit([lloyd_columns(d, k) for d, k in shapes],
                                                     [one_rank[shape] / CALIBRATION_ROWS for shape in shapes])
        # Hamerly, per row over a whole fit of N iterations: a · Lloyd's row (the first pass,
        # which scores every row and sets its bounds) + b₀ · N (the bound sweep of each later
        # iteration and of the last pass) + b₁ · d · t (the rows listed to tighten their bound,
        # one distance each: t of them per row over the fit) + r · (η · Lloyd's scoring + ε)
        # (the rows the bounds and the tightening did not settle, scored against every centre
        # in batches of scattered rows, r per row after the first pass: the scoring of Lloyd's
        # row, α·k̂·d + β·k̂, and a cost of its own per row for the gathering and the bounds —
        # not Lloyd's per-row sums, which a pruned pass makes only for the rows that move)
        self.hamerly_terms = {name: nonnegative_fit([self.hamerly_columns(d, k, work) for d, k, work, _ in rows],
                                                    [time for *_, time in rows])
                              for name, rows in hamerly_rows.items()}
        # The reduction's local work (1 rank: no communication): ρ per row and feature of a pass
        # to relocate an empty cluster, from fits whose initial centres repeat one (one pass in
        # the first iteration) against the same fits without; then r₀ + r₁·k·d from the
        # calibration's Lloyd fits, less their own relocation passes.
        passes = []
        for d, k in ((16, 128), (64, 128)):
            init = duplicated_centres(path_of[d, k], k, os.path.join(scratch, f"init-{d}-{k}.h5"))
            once = ("--max-iter", "1", "--tol", "0", "--algorithm", "lloyd")
            _, plain = median_fit(repeats, lloyd, 1, path_of[d, k], k, "--init", init + ":/distinct", *once)
            _, moved = median_fit(repeats, lloyd, 1, path_of[d, k], k, "--init", init + ":/repeated", *once)
            if moved["relocation_passes"] == 1 and plain["relocation_passes"] == 0:
                passes.append(max(moved["phases"]["reduce"] - plain["phases"]["reduce"], 0.0) / (CALIBRATION_ROWS * d))
        self.relocation_per_value = statistics.median(passes) if passes else 0.0
        self.reduce_terms = {1: self.local_reduce_terms({(d, k, "lloyd"): run for (d, k), run in lloyd_runs.items()}, 1,
                                                        CALIBRATION_ROWS)}
        # p busy ranks share the chip (memory bandwidth, caches, clock): a rank's assignment of
        # m rows at p ranks takes s(p) times as long as at 1 rank; per kernel the median over its
        # calibration shapes of the same fit at p ranks and p times the rows.
        self.slowdown = {name: {1: 1.0} for name in self.lloyd_terms}
        for p in ranks:
            if p == 1:
                continue
            ratios, many_runs = {}, {}
            for d, k in CALIBRATION_SHAPES:
                big = generate(lloyd, os.path.join(data, f"calibration-{p * CALIBRATION_ROWS}x{d}-{k}.h5"),
                               p * CALIBRATION_ROWS, d, k)
                many_runs[d, k, "lloyd"] = median_fit(repeats, lloyd, p, big, k, *common, "--algorithm", "lloyd")[1]
                many_runs[d, k, "hamerly"] = median_fit(repeats, lloyd, p, big, k, *common, "--algorithm", "hamerly")[1]
                ratios.setdefault(regime(d), []).append(per_iteration(many_runs[d, k, "lloyd"], "assign") / one_rank[d, k])
            # at p ranks the reduction's local work is measured beside its communication (the
            # sums packed for and unpacked from the allreduce, which one rank skips), and the
            # fastest rank's reduction also holds its waits for a slower assignment (the ranks
            # take turns being the slowest: a share of the assignment); Lloyd's and Hamerly's
            # assignments of the same shape tell that share from the work per k·d
            self.reduce_terms[p] = self.local_reduce_terms(many_runs, p, CALIBRATION_ROWS)
            for name, values in ratios.items():
                self.slowdown[name][p] = statistics.median(values)
        # k-means++ (k < 128: no rows sorted by centre, no per-row bounds; P4's case), per pick
        # and row c₁ · (2 + ⌊ln k⌋) · d + c₂: the init phase less the data summary (itself a
        # read of the shard: forgy's init phase)
        seeding_rows, seeding_times = [], []
        for d, k in SEEDING_SHAPES:
            path = generate(lloyd, os.path.join(data, f"calibration-{CALIBRATION_ROWS}x{d}-{k}.h5"),
                            CALIBRATION_ROWS, d, k)
            _, forgy = median_fit(repeats, lloyd, 1, path, k, "--init", "forgy", "--max-iter", "1")
            _, plus = median_fit(repeats, lloyd, 1, path, k, "--init", "k-means++", "--max-iter", "1")
            seeding_rows.append([trials(k) * d * k * CALIBRATION_ROWS, k * CALIBRATION_ROWS])
            seeding_times.append(plus["phases"]["init"] - forgy["phases"]["init"])
            self.summary_per_value = forgy["phases"]["init"] / (CALIBRATION_ROWS * d)
        self.seeding_terms = nonnegative_fit(seeding_rows, seeding_times)
        # the read (e₁ per byte, e₂ per file) from two file sizes; the write of a model (labels
        # written by every rank for its rows: w₁ per label byte, w₂ per file) from two row counts,
        # at each rank count (the file is created collectively: measured 3 ms more at 2 ranks)
        self.write_terms = {}
        for p in sorted(set(ranks) | {1}):
            measured = []
            for rows, d in ((CALIBRATION_ROWS, 16), (CALIBRATION_ROWS, 128), (4 * CALIBRATION_ROWS, 8)):
                path = generate(lloyd, os.path.join(data, f"calibration-{rows}x{d}.h5"), rows, d, 32)
                output = os.path.join(scratch, "calibration-model.h5")
                _, result = median_fit(repeats, lloyd, p, path, 8, "--init", "forgy", "--max-iter", "1",
                                       "--output", output, "--force")
                measured.append((-(-rows // p), d, result["phases"]["io"], result["phases"]["write"]))
            (m0, d0, r0, w0), (m1, d1, r1, _), (m2, _, _, w2) = measured
            if p == 1:
                self.read_per_byte, self.read_per_file = line_through((m0 * d0 * 4, r0), (m1 * d1 * 4, r1))
            self.write_terms[p] = line_through((m0 * 4, w0), (m2 * 4, w2))

    def describe(self):
        lines = []
        for name, (alpha, beta, delta, gamma) in sorted(self.lloyd_terms.items()):
            first, b0, b1, eta, epsilon = self.hamerly_terms[name]
            slow = ", ".join(f"{p} ranks {s:.2f}" for p, s in sorted(self.slowdown[name].items()) if p > 1)
            lines.append(f"  {name:6s} Lloyd row: k·d × {alpha * 1e12:.1f} ps ({2 / alpha / 1e9:.0f} GFLOP/s, "
                         f"{2 / alpha / self.rates.gemm[4] * 100:.0f}% of one core's SGEMM) + k × {beta * 1e9:.3f} ns "
                         f"+ d × {delta * 1e9:.3f} ns + {gamma * 1e9:.2f} ns; Hamerly row: first pass {first:.2f} × Lloyd's, then {b0 * 1e9:.2f} ns per iteration "
                         f"+ d·t × {b1 * 1e9:.3f} ns + r × ({eta:.2f} × Lloyd's scoring + {epsilon * 1e9:.2f} ns); "
                         f"slow-down at {slow or '1 rank only'}")
        lines.append("  reduction's local work per iteration: " + "; ".join(
            f"{p} rank(s) {r0 * 1e6:.1f} µs + k·d × {r1 * 1e9:.3f} ns + {wait * 100:.2f}% of the assignment"
            for p, (r0, r1, wait) in sorted(self.reduce_terms.items()))
            + f"; a relocation pass {self.relocation_per_value * 1e9:.3f} ns per row and feature")
        c1, c2 = self.seeding_terms
        lines.append(f"  k-means++ per pick and row: {c1 * 1e9:.4f} ns × (2+⌊ln k⌋)·d + {c2 * 1e9:.3f} ns; "
                     f"data summary {self.summary_per_value * 1e9:.3f} ns per value")
        lines.append(f"  read: {self.read_per_byte * 1e9:.4f} ns per byte ({1 / max(self.read_per_byte, 1e-30) / 1e9:.2f}"
                     f" GB/s) + {self.read_per_file * 1e3:.1f} ms per file; write: "
                     + "; ".join(f"{p} rank(s) {per_byte * 1e9:.4f} ns per label byte + {per_file * 1e3:.1f} ms per file"
                                 for p, (per_byte, per_file) in sorted(self.write_terms.items())))
        return "\n".join(lines)

    # -- the model
    def local_reduce_terms(self, runs, p, m):
        """(r₀, r₁, λ) of the reduction per iteration beyond its allreduces and relocation passes,
        r₀ + r₁·k·d + λ·(the assignment per iteration), from fits at p ranks of m rows each
        (`runs`: (d, k, algorithm) → --json): the fastest rank's reduction (phases_min) less the
        allreduces and the relocation passes. λ is 0 at one rank (no other rank to wait for)."""
        local = []
        for (d, k, _), result in runs.items():
            iterations = max(result["n_iter"], 1)
            seconds = (result["phases_min"]["reduce"] / iterations - self.communication(p, d, k)
                       - relocations(result) * m * d * self.relocation_per_value)
            local.append(([1, k * d, per_iteration(result, "assign") if p > 1 else 0.0], max(seconds, 0.0)))
        # relative errors (each equation over its time): the reductions span 10 µs to 1 ms, and
        # the largest alone would set the constants in absolute terms
        floor = max(max(seconds for _, seconds in local), 1e-9) * 1e-3
        return nonnegative_fit([[value / max(seconds, floor) for value in columns] for columns, seconds in local],
                               [seconds / max(seconds, floor) for _, seconds in local])

    def communication(self, p, d, k, allreduce=None):
        """The reduction's allreduces per iteration: the exact sums, the counts, three scalars."""
        allreduce = allreduce or self.rates.allreduce
        return (allreduce(p, 16 * k * d, "allreduce_int128") + allreduce(p, 8 * k, "allreduce_double")
                + 3 * allreduce(p, 16, "allreduce_double"))

    def lloyd_row(self, d, k):
        return float(np.dot(self.lloyd_terms[regime(d)], lloyd_columns(d, k)))

    def lloyd_scoring(self, d, k):
        """The part of Lloyd's row that scores it against the centres: α·k̂·d + β·k̂."""
        return float(np.dot(self.lloyd_terms[regime(d)][:2], lloyd_columns(d, k)[:2]))

    def hamerly_columns(self, d, k, work):
        """The columns of a Hamerly fit's assignment time per row (see calibrate)."""
        iterations, tightened, rescored = work
        return [self.lloyd_row(d, k), iterations, d * tightened, rescored * self.lloyd_scoring(d, k), rescored]

    def slowed(self, d, p):
        table = self.slowdown[regime(d)]
        return table.get(p, max(table.values()))

    def assign(self, m, d, k, work=None, p=1):
        """Lloyd's assignment per iteration, or with work (hamerly_work) a pruned one's, its
        fit's assignment time over its iterations."""
        row = self.lloyd_row(d, k)
        if work is not None:
            row = float(np.dot(self.hamerly_terms[regime(d)], self.hamerly_columns(d, k, work))) / work[0]
        return m * row * self.slowed(d, p)

    def reduce(self, p, d, k, m=0, relocations=0.0, allreduce=None, assign=0.0):
        """Per iteration, with `relocations` passes over the m rows per iteration, after an
        assignment of `assign` seconds per iteration."""
        r0, r1, wait = self.reduce_terms.get(p, self.reduce_terms[max(self.reduce_terms)])
        return (self.communication(p, d, k, allreduce) + r0 + r1 * k * d + (wait * assign if p > 1 else 0.0)
                + relocations * m * d * self.relocation_per_value)

    def seed(self, p, m, d, k, allreduce=None, summary_scale=1.0, slowdown=None):
        allreduce = allreduce or self.rates.allreduce
        slowdown = self.slowed(d, p) if slowdown is None else slowdown
        c1, c2 = self.seeding_terms
        summary = self.summary_per_value * m * d * summary_scale
        return summary + k * (m * (c1 * trials(k) * d + c2) * slowdown + 2 * allreduce(p, 16, "allreduce_double"))

    def read(self, p, m, d, s=4):
        return self.read_per_file + self.read_per_byte * m * d * s

    def write(self, m, p=1):
        per_byte, per_file = self.write_terms.get(p, self.write_terms[max(self.write_terms)])
        return per_file + per_byte * 4 * m


def line_through(first, second):
    """(slope, intercept) of the line through two (x, y) points, both ≥ 0."""
    (x0, y0), (x1, y1) = first, second
    slope = max((y1 - y0) / (x1 - x0), 0.0)
    return slope, max(y0 - slope * x0, 0.0)


def trials(k):
    return 2 + int(math.log(k))


def hamerly_work(result, k):
    """(N, t, r) of a pruned fit's --json: its iterations, and per row over the whole fit the
    rows tightened (one distance each) and the rows scored against every centre after the
    first pass (which scores every row); per row and iteration, distances_computed = (t' +
    r'·k) / k and rows_rescored = r'. None for a Lloyd fit (every distance)."""
    if result["algorithm"] == "lloyd":
        return None
    iterations = max(result["n_iter"], 1)
    rescored = result["rows_rescored"]
    tightened = max(result["distances_computed"] - rescored, 0.0) * k * iterations
    return iterations, tightened, max(rescored * iterations - 1.0, 0.0)



def relocations(result):
    """Passes over the rows to relocate an empty cluster, per iteration."""
    return result["relocation_passes"] / max(result["n_iter"], 1)


def duplicated_centres(path, k, out):
    """An HDF5 file of initial centres for `path`'s first k rows: /distinct, and /repeated with
    row 1 equal to row 0 (so its cluster starts empty and is relocated)."""
    import h5py
    with h5py.File(path, "r") as f:
        rows = f["/X"][:k]
    repeated = rows.copy()
    repeated[1] = repeated[0]
    with h5py.File(out, "w") as f:  # in the run's own scratch directory
        f["/distinct"] = rows
        f["/repeated"] = repeated
    return out


# ---------------------------------------------------------------- the check

def check(model, lloyd, data, ranks, repeats, problems, scratch):
    """Model against measured, per phase. A phase's measured time is the slowest rank's
    (`phases`), but for the reduction: the fastest rank's (`phases_min`), whose wait is about
    the communication alone (the slowest rank's also holds the others' wait for it). An
    iteration is then the slowest assignment, the communication and the update."""
    rows = []

    def add(name, phase, predicted, measured):
        error = predicted / measured - 1 if measured > 0 else float("nan")
        rows.append((name, phase, predicted, measured, error))

    def loop(result):
        return ((result["phases"]["assign"] + result["phases_min"]["reduce"] + result["phases"]["update"])
                / max(result["n_iter"], 1))

    for name in [p for p in problems if p in PROBLEMS]:
        n, d, k = PROBLEMS[name]
        path = generate(lloyd, os.path.join(data, f"{name}-{n}x{d}.h5"), n, d, k)
        for p in ranks:
            m = -(-n // p)
            common = ("--init", "forgy", "--seed", "1", "--max-iter", "20", "--tol", "0")
            for algorithm in ("lloyd", "auto"):
                _, result = median_fit(repeats, lloyd, p, path, k, *common, "--algorithm", algorithm)
                work = hamerly_work(result, k)
                label = f"{name} {p}r {result['algorithm']}"
                assign = model.assign(m, d, k, work, p)
                reduce = model.reduce(p, d, k, m, relocations(result), assign=assign)
                add(label, "assign /iter", assign, per_iteration(result, "assign"))
                if p > 1:
                    add(label, "reduce /iter", reduce, result["phases_min"]["reduce"] / result["n_iter"])
                add(label, "iteration", assign + reduce, loop(result))
    if "P4" in problems:
        n, d, k = PROBLEMS["P1"]
        path = generate(lloyd, os.path.join(data, f"P1-{n}x{d}.h5"), n, d, k)
        output = os.path.join(scratch, "P4-model.h5")
        for p in ranks:
            m = -(-n // p)
            seconds, result = median_fit(repeats, lloyd, p, path, k, "--seed", "0", "--output", output, "--force")
            label = f"P4 {p}r default"
            read, seed, write = model.read(p, m, d), model.seed(p, m, d, k), model.write(m, p)
            assign = model.assign(m, d, k, hamerly_work(result, k), p)
            iteration = assign + model.reduce(p, d, k, m, relocations(result), assign=assign)
            add(label, "read", read, result["phases"]["io"])
            add(label, "seed", seed, result["phases"]["init"])
            add(label, f"{result['n_iter']} iterations", result["n_iter"] * iteration, result["n_iter"] * loop(result))
            add(label, "write", write, result["phases"]["write"])
            add(label, "whole (wall)", model.rates.startup[p] + read + seed + result["n_iter"] * iteration + write,
                seconds)
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
    "hamerly_rescored": 0.2,             # share of rows scored in full per iteration (P1: 0.20)
    "hamerly_tightened": 0.25,           # share of rows whose bound is tightened (P1: 0.25)
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
    # (the reduction's wait for the slowest rank: the share of the assignment measured at the
    # most ranks here, assumed to hold at p)
    lloyd_assign = model.assign(m, d, k)
    lloyd_iteration = lloyd_assign + model.reduce(p, d, k, allreduce=allreduce, assign=lloyd_assign)
    # per row over the fit: every row scored in the first pass, then the stated shares per iteration
    iterations = s["iterations"]
    hamerly_work_at_scale = (iterations, s["hamerly_tightened"] * iterations, s["hamerly_rescored"] * (iterations - 1))
    hamerly_assign = model.assign(m, d, k, hamerly_work_at_scale)
    hamerly_reduce = model.reduce(p, d, k, allreduce=allreduce, assign=hamerly_assign)
    hamerly_iteration = hamerly_assign + hamerly_reduce
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
          f"(of which reduce {fmt(hamerly_reduce)}); write labels {fmt(write)}")
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
    ranks = [int(r) for r in args.ranks.split(",")]
    # The models the fits write (with --force) go to a directory of this run's own, never
    # beside the data, which --data may put among the user's files.
    with tempfile.TemporaryDirectory(prefix="lloyd-cost-model-") as scratch:
        model.calibrate(args.lloyd, args.data, args.repeats, ranks, scratch)
        print("Calibrated (1 rank × 1 thread, 200k rows, shapes " + ", ".join(f"d={d} k={k}" for d, k in CALIBRATION_SHAPES)
              + "):\n" + model.describe())
        rows = check(model, args.lloyd, args.data, ranks, args.repeats, args.problems.split(","), scratch)
    within, total = print_check(rows)
    prediction = at_scale(model)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"check": rows, "within": within, "total": total, "prediction": prediction,
                       "lloyd_terms": {name: list(terms) for name, terms in model.lloyd_terms.items()},
                       "hamerly_terms": {name: list(terms) for name, terms in model.hamerly_terms.items()},
                       "slowdown": model.slowdown, "seeding_terms": list(model.seeding_terms),
                       "reduce_terms": {p: list(terms) for p, terms in model.reduce_terms.items()}, "relocation_per_value": model.relocation_per_value},
                      out, default=lambda value: value.item())  # numpy scalars


if __name__ == "__main__":
    main()
