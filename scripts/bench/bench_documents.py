#!/usr/bin/env python3
"""The document pipeline at scale: a generated corpus, `lloyd tfidf`, then
`lloyd fit --metric cosine`, at several rank counts; reports times and the peak resident
memory of the largest rank, and checks that the outputs are identical (h5diff) for every rank
count.

The corpus: --docs documents (one a line) over --topics topics. Each topic has its own 300
words (Zipf-weighted), drawn 70% of the time; the rest come from 3000 shared background
words (Zipf). Document lengths are 20 + Poisson(50) words. Words are made-up letter
strings, deterministic for a seed.

Run: /usr/bin/python3 scripts/bench/bench_documents.py --lloyd build/lloyd [--docs 200000]
         [--k 50] [--ranks 1,2,3,4] [--work /tmp/lloyd-docs]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_words(rng, count, taken):
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = []
    while len(words) < count:
        word = "".join(rng.choice(letters, size=rng.integers(3, 10)))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def zipf_weights(n):
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


def generate(path, docs, topics, seed):
    rng = np.random.default_rng(seed)
    taken = set()
    background = np.array(make_words(rng, 3000, taken))
    topic_words = [np.array(make_words(rng, 300, taken)) for _ in range(topics)]
    topic_of = rng.integers(0, topics, size=docs)
    lengths = 20 + rng.poisson(50, size=docs)
    bg_p, tp_p = zipf_weights(3000), zipf_weights(300)
    with open(path, "w") as out:
        for start in range(0, docs, 10000):
            stop = min(docs, start + 10000)
            lines = []
            for d in range(start, stop):
                n = lengths[d]
                from_topic = rng.random(n) < 0.7
                words = np.where(from_topic,
                                 topic_words[topic_of[d]][rng.choice(300, size=n, p=tp_p)],
                                 background[rng.choice(3000, size=n, p=bg_p)])
                lines.append(" ".join(words))
            out.write("\n".join(lines) + "\n")
    return topic_of


def run(command, env):
    start = time.time()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1]), time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lloyd", required=True)
    parser.add_argument("--docs", type=int, default=200000)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--ranks", default="1,2,3,4")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tfidf-args", default="--min-df 5 --max-df 0.5 --dtype float32")
    parser.add_argument("--work", default="/tmp/lloyd-docs")
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-{args.docs}.txt"
    if not corpus.exists():
        t = time.time()
        generate(corpus, args.docs, args.topics, args.seed)
        print(f"generated {corpus} ({corpus.stat().st_size / 1e6:.1f} MB) in {time.time() - t:.1f} s")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    ranks = [int(r) for r in args.ranks.split(",")]
    # The corpus is kept in --work for the next run; what the runs write (with --force) goes
    # to a directory of this run's own, so no file already in --work is ever replaced.
    runs = tempfile.TemporaryDirectory(dir=work, prefix="run-")
    outputs = []
    for p in ranks:
        tfidf_out, model_out = pathlib.Path(runs.name) / f"tfidf-{p}.h5", pathlib.Path(runs.name) / f"model-{p}.h5"
        launcher = ["mpirun", "-n", str(p), args.lloyd]
        t, t_wall = run(launcher + ["tfidf", "--input", str(corpus), "--output", str(tfidf_out), "--force",
                                    "--json"] + args.tfidf_args.split(), env)
        # Every fit reads the first TF-IDF file (they are checked identical below), so that the
        # models' `input` attributes agree too.
        fit_input = pathlib.Path(runs.name) / f"tfidf-{ranks[0]}.h5"
        f, f_wall = run(launcher + ["fit", "--metric", "cosine", "--input", f"{fit_input}:/X", "--k", str(args.k),
                                    "--seed", "0", "--output", str(model_out), "--force", "--json"], env)
        print(f"{p} rank(s): tfidf {t['n_documents']} docs x {t['n_terms']} terms, {t['nonzeros']} nonzeros, "
              f"{t['seconds']:.2f} s, peak {t['peak_rss_mb']:.0f} MB/rank | fit k={args.k} {f['n_iter']} iterations "
              f"{'converged' if f['converged'] else 'not converged'}, objective {f['inertia']:.6f}, "
              f"{f['seconds']:.2f} s (assign {f['phases']['assign']:.2f} s), peak {f['peak_rss_mb']:.0f} MB/rank")
        outputs.append((p, tfidf_out, model_out))
    first = outputs[0]
    for p, tfidf_out, model_out in outputs[1:]:
        for a, b in ((first[1], tfidf_out), (first[2], model_out)):
            same = subprocess.run(["h5diff", "-c", "--exclude-path", "/timings", str(a), str(b)], capture_output=True).returncode == 0
            print(f"h5diff {a.name} {b.name}: {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
