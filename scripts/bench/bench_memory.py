#!/usr/bin/python3
"""The memory model against the measured peak memory per rank (issue 22): for every
configuration, `lloyd fit --json` reports both the model's estimate (memory_estimate_mb.total,
computed from the file's shape before a row is read: kmeans/memory_model.hpp) and the measured
peak_rss_mb (getrusage, the largest rank); this prints them and their ratio.

    /usr/bin/python3 scripts/bench/bench_memory.py [--lloyd build/lloyd] [--samples 200000,1000000]
        [--features 8,32] [--k 16,64] [--ranks 1,2,4] [--algorithms lloyd,hamerly,yinyang]
        [--inits k-means++,k-means||] [--max-iter 20] [--data-dir DIR] [--tolerance 0.15]
        [--other-modes]

Makes float32 blobs (64 centres) with `lloyd generate` (in --data-dir, kept and reused, or a
scratch directory), fits each configuration once (--max-iter bounds the time; memory does not
grow after the first iterations) with --max-memory-per-rank none, and exits non-zero when a
ratio is off by more than --tolerance. With --other-modes, instead of the algorithms × inits,
each of OTHER_MODES (forgy and restarts, --distances, bisecting, K-medians, mini-batch in memory
and streamed, K-medoids on a sample, cosine). The measured figures include the process baseline
(MPI, HDF5, runtimes), which the model adds as a measured constant (kProcessBaselineBytes).
"""
import argparse
import itertools
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_seeding import ROOT, mpirun  # noqa: E402


# name: the fit options of each --other-modes configuration.
OTHER_MODES = {
    "forgy": ["--init", "forgy"],
    "n_init_3": ["--init", "forgy", "--n-init", "3"],
    "distances": ["--distances", "--output", "{dir}/model.h5", "--force"],
    "bisecting": ["--mode", "bisecting"],
    "kmedians": ["--mode", "kmedians"],
    "minibatch": ["--mode", "minibatch"],
    "stream": ["--mode", "minibatch", "--stream"],
    "kmedoids": ["--mode", "kmedoids", "--sample", "2000"],
    "cosine": ["--metric", "cosine"],
}


def integers(text):
    return [int(x) for x in text.split(",")]


def names(text):
    return text.split(",")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--samples", type=integers, default=[200000, 1000000])
    parser.add_argument("--features", type=integers, default=[8, 32])
    parser.add_argument("--k", type=integers, default=[16, 64])
    parser.add_argument("--ranks", type=integers, default=[1, 2, 4])
    parser.add_argument("--algorithms", type=names, default=["lloyd", "hamerly", "yinyang"])
    parser.add_argument("--inits", type=names, default=["k-means++", "k-means||"])
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--other-modes", action="store_true")
    args = parser.parse_args()

    # The data files are kept in --data-dir when given; what the fits write (with --force)
    # goes to a directory of this run's own, so no file already there is ever replaced.
    outputs = tempfile.TemporaryDirectory()
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        directory = args.data_dir
    else:
        directory = outputs.name
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'n':>8} {'d':>3} {'k':>3} {'ranks':>5} {'configuration':>19} "
          f"{'model MiB':>9} {'measured MiB':>12} {'ratio':>6}")
    if args.other_modes:
        configurations = [(name, [a.replace("{dir}", outputs.name) for a in options])
                          for name, options in OTHER_MODES.items()]
    else:
        configurations = [(f"{algorithm} {init}", ["--algorithm", algorithm, "--init", init])
                          for algorithm, init in itertools.product(args.algorithms, args.inits)]
    worst = 0.0
    for n, d in itertools.product(args.samples, args.features):
        data = os.path.join(directory, f"blobs_{n}_{d}.h5")
        if not os.path.exists(data):
            mpirun(2, args.lloyd, "generate", "--output", data, "--samples", str(n), "--features", str(d),
                   "--centers", "64", "--dtype", "float32", "--seed", "1")
        for k, ranks, (name, options) in itertools.product(args.k, args.ranks, configurations):
            result = json.loads(mpirun(ranks, args.lloyd, "fit", "--input", data + ":/X", "--k", str(k), *options,
                                       "--max-iter", str(args.max_iter), "--max-memory-per-rank", "none",
                                       "--json").stdout.strip().splitlines()[-1])
            model = result["memory_estimate_mb"]["total"]
            measured = result["peak_rss_mb"]
            ratio = model / measured
            worst = max(worst, abs(ratio - 1))
            print(f"{n:>8} {d:>3} {k:>3} {ranks:>5} {name:>19} {model:>9.1f} {measured:>12.1f} "
                  f"{ratio:>6.3f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"largest deviation: {100 * worst:.1f}% (tolerance {100 * args.tolerance:.0f}%)")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
