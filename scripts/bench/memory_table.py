#!/usr/bin/python3
"""The acceptance table of issue 22 item 1: peak memory per rank against the shard, for every
mode and init at the default options, and the memory model's error (item 2).

    /usr/bin/python3 scripts/bench/memory_table.py [--lloyd build/lloyd] [--data-dir /work/bigdata]
        [--samples 1M,8M] [--features 8,32,256] [--ranks 1,2] [--cases k-means++,bisecting,...]
        [--k 64] [--max-iter 10] [--scratch /tmp/lloyd-memory-table]

For every case × n × d × ranks it runs the command once with --json and --max-memory-per-rank
none and prints: the shard per rank (MiB: the rank's rows, r·d·t dense, or its CSR arrays),
peak_rss_mb (the largest rank's), the budget 1.15 × shard + 50, PASS/FAIL, and the error of
the estimate (memory_estimate_mb.total, computed before a row is read) against the peak.
Exits non-zero when a case fails the budget or the estimate is off by more than --tolerance.

The data are the float32 files nN_dD_f32.h5 (dataset /X, 64 blobs, labels /y) of --data-dir.
A file that is missing is made there first, so that the table can be reproduced on a fresh
machine: `lloyd generate --samples N --features D --centers 64 --dtype float32 --seed 1` at 2
ranks, written to a temporary name and renamed when complete (8M × 256 is 8.2 GB).
Where the default options would take hours, the table bounds the work and says so in the
case's name: --max-iter for the fits (memory does not grow after the first iterations; mini-batch one pass),
evaluate's silhouette on a sample of 20000 rows (the exact one is O(n²)), K-medoids on a
sample of 2000 rows, choose-k over K = 2..4 with one gap reference. Spherical K-Means runs on a
TF-IDF-like CSR file made in --scratch (n rows, d stored values per row of 4096 terms, unit
rows), written once and reused.
"""
import argparse
import itertools
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_seeding import ROOT, mpirun  # noqa: E402

MIB = 1024.0 * 1024.0

# name: (command, options); {data}, {labels}, {out} are filled in per run.
CASES = {
    "k-means++": ("fit", ["--init", "k-means++"]),
    "k-means||": ("fit", ["--init", "k-means||"]),
    "lloyd": ("fit", ["--algorithm", "lloyd"]),
    "hamerly": ("fit", ["--algorithm", "hamerly"]),
    "yinyang": ("fit", ["--algorithm", "yinyang"]),
    "bisecting": ("fit", ["--mode", "bisecting"]),
    "kmedians": ("fit", ["--mode", "kmedians"]),
    "spherical-csr": ("fit", ["--metric", "cosine"]),
    # one pass over the data: --max-iter counts passes here (8M rows: 7813 steps each)
    "minibatch-1pass": ("fit", ["--mode", "minibatch", "--max-iter", "1"]),
    # out of core: only labels, bounds and one block of rows (no shard: the budget still shown)
    "stream-forgy": ("fit", ["--stream", "--init", "forgy"]),
    "kmedoids-sample2000": ("fit", ["--mode", "kmedoids", "--sample", "2000"]),
    "evaluate-sample20000": ("evaluate", ["--labels", "{labels}", "--sample-size", "20000"]),
    "choose-k-2..4-gap1": ("choose-k", ["--k-min", "2", "--k-max", "4", "--gap-refs", "1",
                                        "--output", "{out}", "--force"]),
}


def parse_count(text):
    text = text.strip().upper()
    scale = 1
    if text.endswith("M"):
        scale, text = 1000000, text[:-1]
    elif text.endswith("K"):
        scale, text = 1000, text[:-1]
    return int(float(text) * scale)


def count_name(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k"


def csr_file(scratch, n, d):
    """A TF-IDF-like CSR group /X (data, indices, indptr, shape) of n unit rows, d values each."""
    import h5py
    import numpy as np
    path = os.path.join(scratch, f"csr_n{count_name(n)}_d{d}.h5")
    if os.path.exists(path):
        return path
    terms = 4096
    rng = np.random.default_rng(7)
    partial = path + ".partial"
    with h5py.File(partial, "w") as f:
        group = f.create_group("X")
        group.attrs["shape"] = np.array([n, terms], dtype=np.int64)
        data = group.create_dataset("data", (n * d,), dtype=np.float32)
        indices = group.create_dataset("indices", (n * d,), dtype=np.int32)
        group.create_dataset("indptr", data=np.arange(n + 1, dtype=np.int64) * d)
        block = 1 << 16
        for start in range(0, n, block):
            rows = min(block, n - start)
            # d distinct terms per row (sorted), topic-skewed: a row's terms cluster in one band
            topic = rng.integers(0, 64, size=(rows, 1))
            columns = (topic * 64 + rng.integers(0, 2 * d + 64, size=(rows, d))) % terms
            columns.sort(axis=1)
            # make them distinct: nudge repeats (rare) to the next free term
            for j in range(1, d):
                clash = columns[:, j] <= columns[:, j - 1]
                columns[clash, j] = columns[clash, j - 1] + 1
            bad = columns[:, -1] >= terms
            columns[bad] = np.arange(terms - d, terms)
            values = rng.random((rows, d), dtype=np.float32) + 0.1
            values /= np.linalg.norm(values, axis=1, keepdims=True)
            data[start * d:(start + rows) * d] = values.ravel()
            indices[start * d:(start + rows) * d] = columns.astype(np.int32).ravel()
    os.rename(partial, path)
    return path


def data_file(args, n, d):
    """The blobs file nN_dD_f32.h5 of --data-dir, made with `lloyd generate` when missing."""
    path = os.path.join(args.data_dir, f"n{count_name(n)}_d{d}_f32.h5")
    if os.path.exists(path):
        return path
    os.makedirs(args.data_dir, exist_ok=True)
    partial = os.path.join(args.data_dir, f".n{count_name(n)}_d{d}_f32.partial.h5")
    print(f"{'':>21} {count_name(n):>3} {d:>4}  (making {path})", flush=True)
    mpirun(2, args.lloyd, "generate", "--output", partial, "--samples", str(n), "--features", str(d),
           "--centers", "64", "--dtype", "float32", "--seed", "1", "--force")
    os.rename(partial, path)
    return path


def shard_mib(n, d, ranks, csr):
    rows = -(-n // ranks)
    if csr:
        return ((rows + 1) * 8 + rows * d * (4 + 4)) / MIB
    return rows * d * 4 / MIB


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--data-dir", default="/work/bigdata")
    parser.add_argument("--scratch", default="/tmp/lloyd-memory-table")
    parser.add_argument("--samples", type=lambda t: [parse_count(x) for x in t.split(",")], default=[1000000, 8000000])
    parser.add_argument("--features", type=lambda t: [int(x) for x in t.split(",")], default=[8, 32, 256])
    parser.add_argument("--ranks", type=lambda t: [int(x) for x in t.split(",")], default=[1, 2])
    parser.add_argument("--cases", type=lambda t: t.split(","), default=list(CASES))
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=0.15)
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    os.makedirs(args.scratch, exist_ok=True)
    # Inputs made here are kept in --scratch; what the cases write (with --force) goes to a
    # directory of this run's own, so no file already in --scratch is ever replaced.
    outputs = tempfile.TemporaryDirectory(dir=args.scratch, prefix="run-")

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    header = (f"{'case':>21} {'n':>3} {'d':>4} {'ranks':>5} {'shard MiB':>9} {'peak MiB':>9} "
              f"{'budget':>8} {'':>4} {'estimate':>9} {'error':>7}")
    print(header, flush=True)
    failures = 0
    for n, d in itertools.product(args.samples, args.features):
        data = data_file(args, n, d)
        for case, ranks in itertools.product(args.cases, args.ranks):
            command, options = CASES[case]
            csr = case == "spherical-csr"
            source = csr_file(args.scratch, n, d) if csr else data
            filled = [o.replace("{labels}", data + ":/y").replace("{out}", os.path.join(outputs.name, "sweep.h5"))
                      for o in options]
            line = [args.lloyd, command, "--input", source + ":/X", *filled, "--json", "--max-memory-per-rank", "none"]
            if command == "fit":
                line += ["--k", str(args.k)]
            if command in ("fit", "choose-k") and "--max-iter" not in options:
                line += ["--max-iter", str(args.max_iter)]
            try:
                output = mpirun(ranks, *line).stdout.strip().splitlines()[-1]
                result = json.loads(output)
            except Exception as error:  # noqa: BLE001 — one failed run is a row, not the end
                print(f"{case:>21} {count_name(n):>3} {d:>4} {ranks:>5}  run failed: {error}", flush=True)
                failures += 1
                continue
            shard = shard_mib(n, d, ranks, csr)
            peak = result["peak_rss_mb"]
            estimate = result["memory_estimate_mb"]["total"]
            budget = 1.15 * shard + 50
            error = (estimate - peak) / peak
            ok = peak <= budget
            failures += (not ok) + (abs(error) > args.tolerance)
            print(f"{case:>21} {count_name(n):>3} {d:>4} {ranks:>5} {shard:>9.1f} {peak:>9.1f} {budget:>8.1f} "
                  f"{'pass' if ok else 'FAIL':>4} {estimate:>9.1f} {100 * error:>+6.1f}%", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{failures} failure(s): over budget, or estimate off by more than {100 * args.tolerance:.0f}%")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
