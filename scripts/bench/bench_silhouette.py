#!/usr/bin/python3
"""Exact silhouette: `lloyd evaluate` on MPI ranks against scikit-learn's silhouette_score,
on the same data and machine, in the same run.

    /usr/bin/python3 scripts/bench/bench_silhouette.py [--lloyd build/lloyd] [--ranks 2]
        [--samples 50000] [--features 32] [--centers 8] [--repeat 3] [--sklearn-repeat 1]

Makes blobs with `lloyd generate` and labels with `lloyd fit` in a scratch directory, then
reports the best of --repeat runs of each (lloyd's time is its own "seconds": the slowest
rank's wall time including the HDF5 read), the ratio, both scores, and lloyd's peak
resident memory per rank (GNU time) against the budget 2 x shard + 100 MB. Prints the load
average before and after: on a shared machine, repeat when it was busy.
Needs /usr/bin/time, numpy, h5py, scikit-learn (scripts/install-deps.sh --python).
"""
import argparse
import json
import os
import re
import subprocess
import tempfile
import time

import sys  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_blas  # noqa: E402  (before numpy: OpenBLAS at this CPU's kernels)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import silhouette_score  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def mpirun(ranks, *args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "^munge"),  # no wait for an absent munged
                   OMPI_MCA_pml=os.environ.get("OMPI_MCA_pml", "ob1"))  # no UCX probe (scripts/env.sh)
    command = ["mpirun", "--oversubscribe", "-n", str(ranks), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--centers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sklearn-repeat", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        data, model = os.path.join(tmp, "blobs.h5"), os.path.join(tmp, "model.h5")
        mpirun(args.ranks, args.lloyd, "generate", "--output", data, "--samples", str(args.samples),
               "--features", str(args.features), "--centers", str(args.centers), "--cluster-std", "2.0",
               "--dtype", "float64", "--seed", "5")
        mpirun(args.ranks, args.lloyd, "fit", "--input", data + ":/X", "--k", str(args.centers),
               "--seed", "1", "--output", model)
        lloyd_seconds, rss_kb, lloyd_score = [], [], None
        for _ in range(args.repeat):
            result = mpirun(args.ranks, "/usr/bin/time", "-f", "maxrss_kb=%M", args.lloyd, "evaluate",
                            "--input", data + ":/X", "--labels", model, "--metrics", "silhouette", "--json")
            report = json.loads(result.stdout.strip().splitlines()[-1])
            lloyd_seconds.append(report["seconds"])
            lloyd_score = report["silhouette"]
            rss_kb.append(max(int(v) for v in re.findall(r"maxrss_kb=(\d+)", result.stderr)))
        with h5py.File(data, "r") as f, h5py.File(model, "r") as m:
            X, labels = f["X"][...], m["labels"][...]
        sklearn_seconds = []
        for _ in range(args.sklearn_repeat):
            start = time.perf_counter()
            sklearn_score = silhouette_score(X, labels)
            sklearn_seconds.append(time.perf_counter() - start)
    load_after = os.getloadavg()
    shard_mb = args.samples / args.ranks * args.features * 8 / 1e6
    peak_mb = max(rss_kb) / 1024 * 1.048576
    budget_mb = 2 * shard_mb + 100
    print(f"data: {args.samples} x {args.features} float64, k={args.centers}; lloyd on {args.ranks} ranks")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (cores: {os.cpu_count()}); OpenBLAS core: {native_blas.CHOSEN}")
    print(f"lloyd evaluate  best {min(lloyd_seconds):.3f} s  (all: {', '.join(f'{s:.3f}' for s in lloyd_seconds)})")
    print(f"sklearn         best {min(sklearn_seconds):.3f} s  (all: {', '.join(f'{s:.3f}' for s in sklearn_seconds)})")
    print(f"speed-up        {min(sklearn_seconds) / min(lloyd_seconds):.1f}x")
    print(f"silhouette      lloyd {lloyd_score!r}  sklearn {sklearn_score!r}  "
          f"relative difference {abs(lloyd_score - sklearn_score) / abs(sklearn_score):.2e}")
    print(f"peak RSS/rank   {peak_mb:.1f} MB  (shard {shard_mb:.1f} MB, budget 2 x shard + 100 MB = "
          f"{budget_mb:.1f} MB: {'OK' if peak_mb < budget_mb else 'OVER'})")


if __name__ == "__main__":
    main()
