#!/usr/bin/env bash
# The document pipeline on the bundled corpus data/docstrings.txt (360 docstrings of six
# packages of Python's standard library; the package of each line in
# data/docstrings_topics.txt): builds lloyd (installing missing Debian packages), then on 2
# ranks turns the corpus into TF-IDF, clusters it with spherical K-Means (k = 6) and prints
# each cluster's top terms and how the known topics fall into the clusters. Outputs go to
# demo-output/ (overwritten on every run).
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$LLOYD_ROOT/scripts/build.sh"
OUT=$LLOYD_ROOT/demo-output
mkdir -p "$OUT"
LLOYD=(mpirun --oversubscribe -n 2 "$LLOYD_BUILD/lloyd")
"${LLOYD[@]}" tfidf --input "$LLOYD_ROOT/data/docstrings.txt" --output "$OUT/docstrings.h5" --force \
  --stop-words english --min-df 2 --max-df 0.5 --sublinear-tf
"${LLOYD[@]}" fit --metric cosine --input "$OUT/docstrings.h5:/X" --k 6 --n-init 10 --seed 0 \
  --output "$OUT/docstrings-model.h5" --force
echo
echo "top terms of each cluster:"
"${LLOYD[@]}" top-terms --model "$OUT/docstrings-model.h5" --vocabulary "$OUT/docstrings.h5" --n 8
echo
echo "documents per (cluster, known topic):"
h5dump -d /labels -y -w 1 -o "$OUT/labels.txt" "$OUT/docstrings-model.h5" >/dev/null
tr -d ' ,' <"$OUT/labels.txt" | grep -v '^$' | paste - "$LLOYD_ROOT/data/docstrings_topics.txt" |
  sort | uniq -c | sort -k2,2n -k1,1nr | awk '{printf "  cluster %s  %-9s %3d\n", $2, $3, $1}'
