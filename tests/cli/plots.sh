#!/usr/bin/env bash
# End-to-end test of the plot scripts (scripts/plot/): each answers --help, and each model
# kind lloyd writes (Lloyd, bisecting, mini-batch, K-medians, K-medoids, cosine on dense and on
# CSR input) gives a PNG from plot_history.py and plot_clusters.py; a choose-k sweep from
# plot_sweep.py. Skipped when /usr/bin/python3 lacks h5py or matplotlib
# (scripts/install-deps.sh --test installs both).
#
#     bash tests/cli/plots.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

PY=/usr/bin/python3
PLOTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/plot" && pwd)
if ! "$PY" -c 'import h5py, matplotlib, numpy' 2>/dev/null; then
  echo "SKIP plots: $PY lacks h5py, matplotlib or numpy"
  finish
fi
LIMIT=120
BLOBS=$DATA/lloyd_blobs_f64.h5
export MPLCONFIGDIR=$TMP/matplotlib

is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

# plot NAME SCRIPT ARGS... (the PNG is the last argument): exits 0 and writes a PNG.
plot() {
  local name=$1 script=$2
  shift 2
  local png=${!#}
  run "$name" "$LIMIT" "$PY" "$PLOTS/$script" "$@"
  if [ "$RC" -ne 0 ]; then fail "$name" "exit status $RC" "$ERR_FILE"
  elif ! is_png "$png"; then fail "$name" "no PNG at $png" "$OUT_FILE" "$ERR_FILE"
  else pass "$name"; fi
}

for script in plot_history.py plot_clusters.py plot_sweep.py plot_scaling.py; do
  run "help.$script" "$LIMIT" "$PY" "$PLOTS/$script" --help
  if [ "$RC" -eq 0 ] && grep -q '^usage:' "$OUT_FILE"; then pass "help.$script"
  else fail "help.$script" "exit status $RC or no usage line" "$OUT_FILE" "$ERR_FILE"; fi
done

for mode in lloyd bisecting minibatch kmedians kmedoids; do
  mpi "fit.$mode" 2 "$LIMIT" fit --input "$BLOBS:/X" --k 4 --mode "$mode" --output "$TMP/$mode.h5"
  check_ran_ok "fit.$mode"
  plot "history.$mode" plot_history.py "$TMP/$mode.h5" "$TMP/$mode-history.png"
  plot "clusters.$mode" plot_clusters.py "$TMP/$mode.h5" "$BLOBS:/X" "$TMP/$mode-clusters.png"
done

mpi fit.cosine 2 "$LIMIT" fit --input "$BLOBS:/X" --k 4 --metric cosine --output "$TMP/cosine.h5"
check_ran_ok fit.cosine
plot history.cosine plot_history.py "$TMP/cosine.h5" "$TMP/cosine-history.png"
plot clusters.cosine plot_clusters.py "$TMP/cosine.h5" "$BLOBS:/X" "$TMP/cosine-clusters.png"

mpi tfidf 2 "$LIMIT" tfidf --input "$DATA/tfidf_corpus.txt" --output "$TMP/corpus.h5"
check_ran_ok tfidf
mpi fit.csr 2 "$LIMIT" fit --input "$TMP/corpus.h5:/X" --k 3 --metric cosine --output "$TMP/csr.h5"
check_ran_ok fit.csr
plot history.csr plot_history.py "$TMP/csr.h5" "$TMP/csr-history.png"
plot clusters.csr plot_clusters.py "$TMP/csr.h5" "$TMP/corpus.h5:/X" "$TMP/csr-clusters.png"

mpi sweep 2 "$LIMIT" choose-k --input "$BLOBS:/X" --k-min 2 --k-max 5 --gap-refs 2 --output "$TMP/sweep.h5" --quiet
check_ran_ok sweep
plot sweep.plot plot_sweep.py "$TMP/sweep.h5" "$TMP/sweep.png"

# Not a model: one line, non-zero, no traceback.
run history.not_a_model "$LIMIT" "$PY" "$PLOTS/plot_history.py" "$TMP/sweep.h5" "$TMP/x.png"
if [ "$RC" -ne 0 ] && ! grep -q Traceback "$ERR_FILE" && [ "$(wc -l <"$ERR_FILE")" -eq 1 ]; then
  pass history.not_a_model
else fail history.not_a_model "exit $RC, stderr not one line" "$ERR_FILE"; fi

finish
