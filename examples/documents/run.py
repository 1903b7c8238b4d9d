#!/usr/bin/python3
"""Document clustering: the project's corpus of Python standard-library docstrings
(data/docstrings.txt, six packages; the package of each line in data/docstrings_topics.txt).

    /usr/bin/python3 examples/documents/run.py [--large] [--ranks N]

On MPI ranks: `lloyd tfidf` turns the corpus into TF-IDF rows, `lloyd fit --metric cosine`
clusters them (spherical K-Means, k = 6), `lloyd top-terms` names each cluster by its heaviest
terms, and `lloyd evaluate --truth` scores the clusters against the known packages (NMI,
ARI). Every sixth line is held out as "new documents": `lloyd tfidf --vocabulary` maps them
into the fitted vocabulary and `lloyd predict` labels them; a held-out document counts as
right when its cluster's majority package (among the fitted documents) is its own package.

--large repeats the fitted corpus 100 times, each copy with a random quarter of every
document's words dropped (30 000 documents), on 4 ranks unless --ranks says otherwise.
"""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import ROOT, Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

K = 6
HOLD_OUT_EVERY = 6          # every sixth line of the corpus is a "new document"
LARGE_COPIES, LARGE_DROP = 100, 0.25
# English stop words out; terms in at least 3 documents and at most 30% of them (words every
# package's docstrings use, such as "return" or "object", say nothing of the topic);
# tf = 1 + ln(count). On the 300 fitted documents these gave NMI 0.37-0.43 for seeds 0-2, the
# options of scripts/docs_demo.sh (--min-df 2 --max-df 0.5) 0.30-0.34.
TFIDF_OPTIONS = ["--stop-words", "english", "--min-df", "3", "--max-df", "0.3", "--sublinear-tf"]
N_INIT = 30


def perturbed_copies(documents, copies, drop, seed=0):
    """`copies` versions of every document, each missing a random `drop` fraction of its words."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(copies):
        for document in documents:
            words = document.split()
            keep = rng.random(len(words)) >= drop
            out.append(" ".join(w for w, k in zip(words, keep) if k) or words[0])
    return out


def main():
    args = arguments(__doc__)
    documents = (ROOT / "data" / "docstrings.txt").read_text().splitlines()
    topics = np.array((ROOT / "data" / "docstrings_topics.txt").read_text().split())
    names = sorted(set(topics))
    held_out = np.arange(len(documents)) % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1
    fitted_docs = [d for d, h in zip(documents, held_out) if not h]
    fitted_topics, new_topics = topics[~held_out], topics[held_out]
    if args.large:
        fitted_docs = perturbed_copies(fitted_docs, LARGE_COPIES, LARGE_DROP)
        fitted_topics = np.tile(fitted_topics, LARGE_COPIES)

    work = args.work
    (work / "corpus.txt").write_text("\n".join(fitted_docs) + "\n")
    (work / "new.txt").write_text("\n".join(d for d, h in zip(documents, held_out) if h) + "\n")
    with h5py.File(work / "truth.h5", "w") as f:
        f["y"] = np.searchsorted(names, fitted_topics)

    corpus, model = work / "corpus.h5", work / "topics.h5"
    tfidf = lloyd(args, "tfidf", "--input", work / "corpus.txt", "--output", corpus, *TFIDF_OPTIONS,
                  "--json", json_output=True)
    fit = lloyd(args, "fit", "--metric", "cosine", "--input", f"{corpus}:/X", "--k", K, "--n-init", N_INIT,
                "--seed", 0, "--output", model, "--json", json_output=True)
    terms = lloyd(args, "top-terms", "--model", model, "--vocabulary", corpus, "--n", 6, "--json",
                  json_output=True)["clusters"]
    scores = lloyd(args, "evaluate", "--input", f"{corpus}:/X", "--labels", model, "--truth",
                   f"{work / 'truth.h5'}:/y", "--metric", "cosine", "--metrics", "none", "--json",
                   json_output=True)
    # Chance level: the same cluster sizes, the documents dealt out at random.
    with h5py.File(model, "r") as f:
        labels = f["labels"][...]
    with h5py.File(work / "shuffled.h5", "w") as f:
        f["labels"] = np.random.default_rng(0).permutation(labels)
    chance = lloyd(args, "evaluate", "--input", f"{corpus}:/X", "--labels", f"{work / 'shuffled.h5'}:/labels",
                   "--truth", f"{work / 'truth.h5'}:/y", "--metric", "cosine", "--metrics", "none", "--json",
                   json_output=True)

    # New documents: the fitted vocabulary and idf, then the fitted centres.
    lloyd(args, "tfidf", "--input", work / "new.txt", "--vocabulary", corpus, "--output", work / "new.h5")
    lloyd(args, "predict", "--model", model, "--input", f"{work / 'new.h5'}:/X", "--output",
          work / "new_labels.h5")

    with h5py.File(work / "new_labels.h5", "r") as f:
        new_labels = f["labels"][...]
    majority = [Counter(fitted_topics[labels == c]).most_common(1)[0][0] for c in range(K)]
    purity = np.mean([majority[c] == t for c, t in zip(labels, fitted_topics)])
    new_right = np.mean([majority[c] == t for c, t in zip(new_labels, new_topics)])

    print(f"{len(fitted_docs)} documents, {tfidf['n_terms']} terms, {args.ranks} ranks; "
          f"spherical K-Means k={K}: {fit['n_iter']} iterations, {fit['seconds']:.2f} s")
    for c in terms:
        print(f"  cluster {c['cluster']} ({c['size']:5d} docs, mostly {majority[c['cluster']]:9s}): "
              + ", ".join(c["terms"]))
    print(f"against the known packages: NMI {scores['normalized_mutual_info']:.3f}, "
          f"ARI {scores['adjusted_rand']:.3f}, purity {purity:.3f} "
          f"(documents dealt out at random: NMI {chance['normalized_mutual_info']:.3f})")
    print(f"{len(new_labels)} held-out documents: {new_right:.3f} land in a cluster whose majority is their package")

    draw(args, terms, labels, fitted_topics, names, majority, new_labels, new_topics, scores, new_right)

    check = Checks(args)
    # Default size: NMI 0.375 (chance 0.02), purity 0.58, 45 of 60 held-out documents right.
    check.expect(scores["normalized_mutual_info"] > 0.3, "NMI against the known packages > 0.3")
    check.expect(chance["normalized_mutual_info"] < 0.1, "documents dealt out at random: NMI < 0.1")
    check.expect(purity > 0.5, "most fitted documents are in a cluster of their own package (purity > 0.5)")
    check.expect(new_right > 0.6, "held-out documents: > 60% land in a cluster of their own package")
    check.expect(len(set(majority)) >= 5, "the clusters' majorities cover at least 5 of the 6 packages")
    check.finish()


def draw(args, terms, labels, topics, names, majority, new_labels, new_topics, scores, new_right):
    colours = dict(zip(names, plt.get_cmap("tab10").colors))
    figure, (bars, confusion) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [2.3, 1]})
    # Left: one bar per cluster, split by the known package of its documents, top terms beside.
    for row, cluster in enumerate(terms):
        counts = Counter(topics[labels == cluster["cluster"]])
        left = 0
        for name in names:
            bars.barh(row, counts[name], left=left, color=colours[name],
                      label=name if row == 0 else None)
            left += counts[name]
        bars.text(left * 1.02 + 0.5, row, ", ".join(cluster["terms"]), va="center", fontsize=9)
    bars.set_yticks(range(len(terms)), [f"cluster {c['cluster']}\n({majority[c['cluster']]})" for c in terms])
    bars.invert_yaxis()
    bars.set_xlim(0, max(c["size"] for c in terms) * 2.2)
    bars.set_xlabel("documents (colour: the package they come from; label: the majority)")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9, ncol=len(names), frameon=False)
    bars.set_title(f"clusters and their top terms: NMI {scores['normalized_mutual_info']:.2f}, "
                   f"ARI {scores['adjusted_rand']:.2f} against the packages")
    # Right: held-out documents, their package against the majority package of their cluster.
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for cluster, topic in zip(new_labels, new_topics):
        matrix[names.index(topic), names.index(majority[cluster])] += 1
    confusion.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            confusion.text(j, i, n, ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    confusion.set_xticks(range(len(names)), names, rotation=45, ha="right")
    confusion.set_yticks(range(len(names)), names)
    confusion.set_xlabel("majority package of the cluster predicted")
    confusion.set_ylabel("package of the new document")
    confusion.set_title(f"{len(new_labels)} new documents: {new_right:.0%} right")
    figure.tight_layout()
    save(figure, args, "documents")


if __name__ == "__main__":
    main()
