#!/usr/bin/python3
"""Bisecting K-Means: `lloyd fit --mode bisecting` on MPI ranks against scikit-learn's
BisectingKMeans, same data, same strategy, same machine, in the same run (issue 5).

    /usr/bin/python3 scripts/bench/bench_bisecting.py [--lloyd build/lloyd] [--ranks 2]
        [--samples 200000] [--features 16] [--centers 12] [--k 16] [--n-init 3]
        [--seeds 3]

Makes blobs with `lloyd generate` in a scratch directory; for each strategy and seed fits
both (init k-means++, n_init restarts per split) and reports the final inertias, their
ratio (median over seeds) and the wall times (lloyd: its own "seconds", the slowest rank
including the read; scikit-learn: fit only). Prints the load average before and after.
"""
import json
import os
import statistics
import tempfile
import time

import sys  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_blas  # noqa: E402  (before numpy: OpenBLAS at this CPU's kernels)

import h5py  # noqa: E402
from sklearn.cluster import BisectingKMeans  # noqa: E402

from bench_seeding import data_arguments, generate, mpirun  # noqa: E402


def main():
    parser = data_arguments(__doc__, samples=200000, features=16, centers=12)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}; OpenBLAS core: {native_blas.CHOSEN}")
    with tempfile.TemporaryDirectory(prefix="lloyd-bench-bisecting-") as scratch:
        data = os.path.join(scratch, "blobs.h5")
        generate(args, data, "--cluster-std", "2", "--seed", "11")
        with h5py.File(data, "r") as f:
            X = f["X"][...]
        print(f"blobs: {args.samples} x {args.features}, {args.centers} centres (std 2); "
              f"k = {args.k}, n_init = {args.n_init}, lloyd on {args.ranks} ranks")
        for strategy in ("biggest-inertia", "largest-cluster"):
            ratios = []
            for seed in range(args.seeds):
                result = json.loads(mpirun(
                    args.ranks, args.lloyd, "fit", "--input", data + ":/X", "--k", str(args.k),
                    "--mode", "bisecting", "--bisecting-strategy", strategy, "--n-init",
                    str(args.n_init), "--seed", str(seed), "--json").stdout.strip().splitlines()[-1])
                start = time.perf_counter()
                model = BisectingKMeans(n_clusters=args.k, init="k-means++", n_init=args.n_init,
                                        bisecting_strategy=strategy.replace("-", "_"),
                                        random_state=seed).fit(X)
                sk_seconds = time.perf_counter() - start
                ratios.append(result["inertia"] / model.inertia_)
                print(f"{strategy:>16} seed {seed}: lloyd {result['inertia']:.6e} "
                      f"({result['seconds']:.2f} s)  scikit-learn {model.inertia_:.6e} "
                      f"({sk_seconds:.2f} s)  ratio {ratios[-1]:.4f}", flush=True)
            print(f"{strategy:>16} median inertia ratio lloyd / scikit-learn: "
                  f"{statistics.median(ratios):.4f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
