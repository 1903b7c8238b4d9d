#!/usr/bin/python3
"""The Python package against the command line and scikit-learn: one Lloyd iteration on the
same rows, the same cores, in the same run (issue 18's speed point).

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench/python_vs_cli.py [--lloyd build/lloyd]
        [--samples 400000] [--features 16] [--centers 64] [--k 64] [--dtype float32]
        [--iterations 20] [--repeats 3] [--threads 2]

Makes blobs with `lloyd generate`, then fits k centres from the same initial centres for exactly
--iterations iterations (tol 0) three ways: `lloyd fit` on one rank with --threads (the file),
lloyd.KMeans(n_threads=...) on the NumPy array in this process, and scikit-learn's KMeans
(algorithm="lloyd", its own threads). Per iteration: lloyd's own phases (assign + reduce +
update; the seeding and the read are left out) for both lloyd paths, and the wall time of the
whole fit over its iterations for scikit-learn. Also: whether the fit copied the array (the
peak resident memory the fit added, against the array's size). Medians over --repeats.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_blas  # noqa: E402  (before numpy: OpenBLAS at this CPU's kernels)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans as SklearnKMeans  # noqa: E402

from bench_seeding import data_arguments, generate, mpirun  # noqa: E402


def rss_mb(field):
    """VmHWM (the peak resident size) or VmRSS (the current one) of this process, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# The memory a fit adds, measured in a fresh interpreter: in this one, memory freed by the
# earlier fits stays resident and would hide a copy of the array.
MEMORY_PROBE = """
import sys
import numpy as np
import lloyd
from python_vs_cli import rss_mb
X, init = np.load(sys.argv[1]), np.load(sys.argv[2])
lloyd.KMeans(len(init), init=init, tol=0, max_iter=2).fit(X[:1000])  # the engine's own start-up
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # Linux: the peak resident size starts again from the current one
before = rss_mb("VmRSS")
lloyd.KMeans(len(init), init=init, tol=0, max_iter=2, n_threads=int(sys.argv[3])).fit(X)
print(rss_mb("VmHWM") - before)
"""


def memory_added_mb(scratch, X, init, threads):
    np.save(os.path.join(scratch, "X.npy"), X)
    np.save(os.path.join(scratch, "init.npy"), init)
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, os.path.join(scratch, "X.npy"),
                            os.path.join(scratch, "init.npy"), str(threads)],
                           check=True, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return float(probe.stdout.strip().splitlines()[-1])


def per_iteration(phases, n_iter):
    return (phases["assign"] + phases["reduce"] + phases["update"]) / n_iter


def main():
    parser = data_arguments(__doc__, samples=400000, features=16, centers=64)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    import lloyd  # noqa: E402  (PYTHONPATH=build/python)

    print(f"load average before: {os.getloadavg()}; OpenBLAS core: {native_blas.CHOSEN}")
    with tempfile.TemporaryDirectory(prefix="lloyd-bench-python-") as scratch:
        data = os.path.join(scratch, "blobs.h5")
        args.ranks = 1
        generate(args, data, "--dtype", args.dtype, "--seed", "5")
        with h5py.File(data, "r") as f:
            X = np.ascontiguousarray(f["X"][...])
        rng = np.random.default_rng(0)
        init = np.ascontiguousarray(X[rng.choice(len(X), args.k, replace=False)])
        with h5py.File(os.path.join(scratch, "init.h5"), "w") as f:
            f["C"] = init
        print(f"{args.samples} x {args.features} {args.dtype}, k = {args.k}, {args.iterations} iterations, "
              f"{args.threads} threads, array {X.nbytes / 2**20:.1f} MiB")

        cli, python, sklearn = [], [], []
        for _ in range(args.repeats):
            # --bind-to none: mpirun would bind the one rank to one core, and its threads with it.
            result = json.loads(mpirun(
                1, "--bind-to", "none", args.lloyd, "fit", "--input", data + ":/X", "--init", os.path.join(scratch, "init.h5") + ":/C",
                "--tol", "0", "--max-iter", str(args.iterations), "--algorithm", "lloyd",
                "--threads", str(args.threads), "--json").stdout.strip().splitlines()[-1])
            cli.append(per_iteration(result["phases"], result["n_iter"]))

            km = lloyd.KMeans(args.k, init=init, tol=0, max_iter=args.iterations, algorithm="lloyd",
                              n_threads=args.threads).fit(X)
            python.append(per_iteration(km.phases_, km.n_iter_))
            assert km.inertia_ == result["inertia"], "the Python fit must be the command line's bits"

            start = time.perf_counter()
            sk = SklearnKMeans(args.k, init=init, n_init=1, tol=0, max_iter=args.iterations,
                               algorithm="lloyd").fit(X)
            sklearn.append((time.perf_counter() - start) / sk.n_iter_)

        cli_s, python_s, sklearn_s = (statistics.median(v) for v in (cli, python, sklearn))
        print(f"per iteration: lloyd fit (CLI) {cli_s * 1e3:.2f} ms, lloyd.KMeans (Python) {python_s * 1e3:.2f} ms, "
              f"scikit-learn {sklearn_s * 1e3:.2f} ms")
        print(f"Python / CLI per iteration: {python_s / cli_s:.3f}")
        print(f"scikit-learn / Python per iteration: {sklearn_s / python_s:.2f}x")
        added = memory_added_mb(scratch, X, init, args.threads)
        fortran = memory_added_mb(scratch, np.asfortranarray(X), init, args.threads)
        print(f"peak memory a fit adds to the process: C order {added:.1f} MiB, Fortran order {fortran:.1f} MiB "
              f"(the array itself: {X.nbytes / 2**20:.1f} MiB)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
