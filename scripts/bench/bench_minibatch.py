#!/usr/bin/python3
"""Mini-batch K-Means (issue 8): `lloyd fit --mode minibatch` against full Lloyd on the same
ranks (speed and inertia), scikit-learn's MiniBatchKMeans with the same batch size
(quality), and the out-of-core mode's peak memory against the data size.

    /usr/bin/python3 scripts/bench/bench_minibatch.py [--lloyd build/lloyd] [--ranks 2]
        [--samples 1000000] [--features 32] [--centers 64] [--batch-size 1024]
        [--seeds 3] [--stream-samples 4000000] [--skip-sklearn]

Makes float32 blobs with `lloyd generate` in a scratch directory (k = --centers); for each
seed fits full Lloyd (k-means++, the defaults) and mini-batch (k-means++ on 3 batches of
rows, --max-no-improvement 10) and prints wall times (lloyd's own "seconds": the slowest
rank, including reading the input) and inertias, then the medians of
    speed-up = Lloyd seconds / mini-batch seconds   (acceptance: >= 3)
    inertia ratio = mini-batch / Lloyd               (acceptance: <= 1.02)
and scikit-learn's MiniBatchKMeans(batch_size=B, n_init=1) inertia and fit time on the same
data. Then streams (--stream) a data set of --stream-samples rows from disk with the model
written block by block, and prints the data size / peak resident memory of a rank
(acceptance: >= 4; peak_rss_mb is the maximum over ranks, from getrusage), next to the same
streamed fit on the --samples data set (the peak should not grow with n).
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

from bench_seeding import data_arguments, generate, mpirun  # noqa: E402


def fit(args, data, *extra):
    out = mpirun(args.ranks, args.lloyd, "fit", "--input", data + ":/X", "--k", str(args.centers),
                 "--json", *extra)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = data_arguments(__doc__, samples=1000000, features=32, centers=64)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--stream-samples", type=int, default=4000000)
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}; OpenBLAS core: {native_blas.CHOSEN}")
    with tempfile.TemporaryDirectory(prefix="lloyd-bench-minibatch-") as scratch:
        data = os.path.join(scratch, "blobs.h5")
        generate(args, data, "--dtype", "float32", "--seed", "3")
        print(f"blobs: {args.samples} x {args.features} float32, {args.centers} centres; "
              f"k = {args.centers}, batch {args.batch_size}, {args.ranks} ranks")
        speedups, ratios = [], []
        for seed in range(args.seeds):
            full = fit(args, data, "--seed", str(seed))
            mini = fit(args, data, "--seed", str(seed), "--mode", "minibatch", "--batch-size",
                       str(args.batch_size))
            speedups.append(full["seconds"] / mini["seconds"])
            ratios.append(mini["inertia"] / full["inertia"])
            print(f"seed {seed}: lloyd {full['inertia']:.6e} ({full['seconds']:.3f} s, "
                  f"{full['n_iter']} iterations)  minibatch {mini['inertia']:.6e} "
                  f"({mini['seconds']:.3f} s, {mini['n_steps']} steps)  speed-up "
                  f"{speedups[-1]:.2f}  inertia ratio {ratios[-1]:.4f}", flush=True)
        print(f"median speed-up lloyd / minibatch: {statistics.median(speedups):.2f}")
        print(f"median inertia ratio minibatch / lloyd: {statistics.median(ratios):.4f}")
        if not args.skip_sklearn:
            from sklearn.cluster import MiniBatchKMeans
            with h5py.File(data, "r") as f:
                X = f["X"][...]
            for seed in range(args.seeds):
                start = time.perf_counter()
                model = MiniBatchKMeans(n_clusters=args.centers, batch_size=args.batch_size,
                                        n_init=1, random_state=seed).fit(X)
                seconds = time.perf_counter() - start
                print(f"scikit-learn MiniBatchKMeans seed {seed}: {model.inertia_:.6e} "
                      f"({seconds:.3f} s, {model.n_steps_} steps)", flush=True)
            del X

        streamed = fit(args, data, "--mode", "minibatch", "--stream", "--batch-size",
                       str(args.batch_size), "--output", os.path.join(scratch, "small.h5"))
        print(f"streamed {args.samples} rows: peak RSS {streamed['peak_rss_mb']:.1f} MB, "
              f"{streamed['seconds']:.2f} s")
        os.remove(data)
        big = os.path.join(scratch, "big.h5")
        big_args = parser.parse_args()
        big_args.samples = args.stream_samples
        generate(big_args, big, "--dtype", "float32", "--seed", "4")
        size_mb = os.path.getsize(big) / 2**20
        streamed = fit(args, big, "--mode", "minibatch", "--stream", "--batch-size",
                       str(args.batch_size), "--output", os.path.join(scratch, "big_model.h5"))
        print(f"streamed {args.stream_samples} rows ({size_mb:.0f} MB): peak RSS "
              f"{streamed['peak_rss_mb']:.1f} MB per rank, {streamed['seconds']:.2f} s, "
              f"inertia {streamed['inertia']:.6e}")
        print(f"data size / peak RSS of a rank: {size_mb / streamed['peak_rss_mb']:.1f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
