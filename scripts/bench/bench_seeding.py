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

With --baseline OTHER_LLOYD it instead times this build against another one on the same data
(--data FILE:/X, e.g. /work/bigdata/n1M_d32_f32.h5:/X, or the generated blobs), interleaved:
for every k in --ks, rank count in --rank-list and init, --repeats runs of each binary
alternating (old, new, old, new, ...), each a fit with --max-iter 1 whose model is written,
and reports the median seeding time (phases.init, slowest rank) and the median CPU time of
the whole run (user + sys of mpirun and its ranks: less disturbed by other load) of each,
their ratio, the init inertia, and whether the two models are identical (h5diff, timings
excluded): the seeds must be the same bits.

    /usr/bin/python3 scripts/bench/bench_seeding.py --baseline /work/ref-bin/lloyd-545aeff \
        --data /work/bigdata/n1M_d32_f32.h5:/X --ks 64,256,1024 --rank-list 1,2 --repeats 3
"""
import argparse
import json
import os
import resource
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


def timed_fit(binary, data, k, init, ranks, output):
    """One fit with --max-iter 1: its --json, and the CPU seconds of mpirun and its ranks."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = mpirun(ranks, binary, "fit", "--input", data, "--k", str(k), "--init", init, "--seed", "0",
                    "--max-iter", "1", "--output", output, "--force", "--json")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(result.stdout.strip().splitlines()[-1]), cpu


def compare_with_baseline(args, data, scratch):
    """This build against --baseline, interleaved (see the module's docstring)."""
    builds = {"old": args.baseline, "new": args.lloyd}
    print(f"old: {args.baseline}\nnew: {args.lloyd}\ndata: {data}")
    print(f"{'init':>10} {'k':>5} {'ranks':>5} {'old seed s':>10} {'new seed s':>10} {'speed-up':>8} "
          f"{'old cpu s':>9} {'new cpu s':>9} {'init_inertia':>14} {'models':>9}")
    for init in args.inits.split(","):
        for k in [int(v) for v in args.ks.split(",")]:
            for ranks in [int(v) for v in args.rank_list.split(",")]:
                seed_s = {name: [] for name in builds}
                cpu_s = {name: [] for name in builds}
                inertia = {}
                for _ in range(args.repeats):
                    for name, binary in builds.items():
                        r, cpu = timed_fit(binary, data, k, init, ranks, os.path.join(scratch, f"{name}.h5"))
                        seed_s[name].append(r["phases"]["init"])
                        cpu_s[name].append(cpu)
                        inertia[name] = r["init_inertia"]
                same = subprocess.run(["h5diff", "--exclude-path", "/timings", os.path.join(scratch, "old.h5"),
                                       os.path.join(scratch, "new.h5")], capture_output=True).returncode == 0
                old, new = statistics.median(seed_s["old"]), statistics.median(seed_s["new"])
                old_cpu, new_cpu = statistics.median(cpu_s["old"]), statistics.median(cpu_s["new"])
                print(f"{init:>10} {k:>5} {ranks:>5} {old:>10.3f} {new:>10.3f} {old / new:>7.2f}x "
                      f"{old_cpu:>9.2f} {new_cpu:>9.2f} {inertia['new']:>14.6e} "
                      f"{'identical' if same else 'DIFFERENT'}", flush=True)


def main():
    parser = data_arguments(__doc__, samples=1000000, features=32, centers=256)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--check-ranks", default="", help="e.g. 1,2,3,4")
    parser.add_argument("--baseline", help="another lloyd binary to time against this one")
    parser.add_argument("--data", help="FILE:/DATASET to seed instead of generated blobs")
    parser.add_argument("--ks", default="64,256,1024", help="with --baseline")
    parser.add_argument("--rank-list", default="1,2", help="with --baseline")
    parser.add_argument("--inits", default="k-means++,k-means||", help="with --baseline")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline")
    args = parser.parse_args()
    if args.baseline:
        print(f"load average before: {os.getloadavg()}")
        with tempfile.TemporaryDirectory(prefix="lloyd-bench-seeding-") as scratch:
            data = args.data
            if not data:
                data = os.path.join(scratch, "blobs.h5")
                generate(args, data, "--dtype", args.dtype, "--seed", "7")
                data += ":/X"
            compare_with_baseline(args, data, scratch)
        print(f"load average after: {os.getloadavg()}")
        return
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
