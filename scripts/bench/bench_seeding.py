#!/usr/bin/python3
"""k-means|| against k-means++ seeding: `lloyd fit --init k-means||` and `--init k-means++`
on the same blobs, same ranks, same seeds, in the same run (issue 5's acceptance).

    /usr/bin/python3 scripts/bench/bench_seeding.py [--lloyd build/lloyd] [--ranks 2]
        [--samples 1000000] [--features 32] [--centers 256] [--k 256] [--seeds 5]
        [--dtype float32] [--check-ranks 1,2,3,4]

Makes blobs with `lloyd generate` in a scratch directory, then for every seed runs a full
fit (seeding + Lloyd to convergence) with each init and reads `--json`: the seeding time is
phases.init (the slowest rank's seeding, including the data summary both inits share), the
final inertia is the fit's. Reports per seed and the medians: seeding speed-up
(k-means++ / k-means||) and the relative difference of the median final inertias. With
--check-ranks it also fits k-means|| (seed 0) at each of those rank counts and checks that
the models are bit-identical (h5diff). Prints the load average before and after: on a
shared machine, repeat when it was busy.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def mpirun(ranks, *args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "^munge"),  # no wait for an absent munged
                   OMPI_MCA_pml=os.environ.get("OMPI_MCA_pml", "ob1"))  # no UCX probe (scripts/env.sh)
    command = ["mpirun", "--oversubscribe", "-n", str(ranks), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env)


def data_arguments(description, samples, features, centers):
    """An argument parser with the options every lloyd-vs-x benchmark takes."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", default=os.path.join(ROOT, "build", "lloyd"))
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--features", type=int, default=features)
    parser.add_argument("--centers", type=int, default=centers)
    return parser


def generate(args, path, *extra):
    """Blobs of the --samples/--features/--centers shape at `path` (`lloyd generate`)."""
    mpirun(args.ranks, args.lloyd, "generate", "--output", path, "--samples", str(args.samples),
           "--features", str(args.features), "--centers", str(args.centers), *extra)


def fit(args, data, init, seed, ranks, output=None):
    command = [args.lloyd, "fit", "--input", data + ":/X", "--k", str(args.k), "--init", init,
               "--seed", str(seed), "--json"]
    if output:
        command += ["--output", output, "--force"]
    result = json.loads(mpirun(ranks, *command).stdout.strip().splitlines()[-1])
    return result


def main():
    parser = data_arguments(__doc__, samples=1000000, features=32, centers=256)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--check-ranks", default="", help="e.g. 1,2,3,4")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="lloyd-bench-seeding-") as scratch:
        data = os.path.join(scratch, "blobs.h5")
        generate(args, data, "--dtype", args.dtype, "--seed", "7")
        print(f"blobs: {args.samples} x {args.features} {args.dtype}, {args.centers} centres; "
              f"k = {args.k}, {args.ranks} ranks")
        rows = {"k-means||": [], "k-means++": []}
        print(f"{'seed':>4} {'init':>10} {'seeding s':>10} {'init_inertia':>16} "
              f"{'final inertia':>16} {'n_iter':>6} {'total s':>8}")
        for seed in range(args.seeds):
            for init in rows:
                r = fit(args, data, init, seed, args.ranks)
                rows[init].append(r)
                print(f"{seed:>4} {init:>10} {r['phases']['init']:>10.3f} {r['init_inertia']:>16.6e} "
                      f"{r['inertia']:>16.6e} {r['n_iter']:>6} {r['seconds']:>8.2f}", flush=True)
        median = {init: {key: statistics.median(r[key] if key != "init" else r["phases"]["init"]
                                                for r in results)
                         for key in ("init", "inertia", "init_inertia")}
                  for init, results in rows.items()}
        speedup = median["k-means++"]["init"] / median["k-means||"]["init"]
        gap = median["k-means||"]["inertia"] / median["k-means++"]["inertia"] - 1
        print(f"median seeding: k-means|| {median['k-means||']['init']:.3f} s, "
              f"k-means++ {median['k-means++']['init']:.3f} s -> speed-up {speedup:.1f}x")
        print(f"median final inertia: k-means|| {median['k-means||']['inertia']:.6e}, "
              f"k-means++ {median['k-means++']['inertia']:.6e} -> {100 * gap:+.3f}%")
        print(f"median seeding cost (init_inertia): k-means|| "
              f"{median['k-means||']['init_inertia']:.6e}, k-means++ "
              f"{median['k-means++']['init_inertia']:.6e}")
        if args.check_ranks:
            models = []
            for ranks in [int(p) for p in args.check_ranks.split(",")]:
                model = os.path.join(scratch, f"model-{ranks}.h5")
                fit(args, data, "k-means||", 0, ranks, model)
                models.append((ranks, model))
            for ranks, model in models[1:]:
                same = subprocess.run(["h5diff", "-c", models[0][1], model, "/centroids"],
                                      capture_output=True).returncode == 0 and \
                    subprocess.run(["h5diff", "-c", models[0][1], model, "/labels"],
                                   capture_output=True).returncode == 0
                print(f"k-means|| model at {ranks} ranks vs {models[0][0]}: "
                      f"{'identical' if same else 'DIFFERENT'}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
