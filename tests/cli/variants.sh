#!/usr/bin/env bash
# End-to-end test of issue 8: fit --mode minibatch | kmedians | kmedoids.
#
#     bash tests/cli/variants.sh /path/to/lloyd
#
# Environment: LLOYD_MPIRUN (launcher and flags, default "mpirun --oversubscribe"),
# LLOYD_TEST_DATA (default tests/data).
#   - every variant writes identical models at 1, 2, 3 and 4 ranks, with its `mode` and own
#     fields; `predict` with such a model (at 3 ranks) gives the fit's labels back (so it
#     uses the variant's distance: L1, the medoid distance);
#   - `--stream` (out of core) writes the same model as the in-memory fit, for a contiguous
#     dataset (pread) and a chunked, compressed one (HDF5 selections);
#   - bad values of the new options, and non-finite data met while streaming, fail with one
#     clear line, every rank non-zero, no output.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
NP=2
mpi gen 2 "$LIMIT" generate --output "$TMP/blobs.h5" --samples 3000 --features 5 --centers 4 \
  --cluster-std 1.5 --dtype float32 --seed 8
check_ran_ok generate.exit0
X="$TMP/blobs.h5:/X"

# NAME: the arguments of one variant's fit (k = 4).
declare -A ARGS=(
  [minibatch]="--mode minibatch --batch-size 200 --seed 3"
  [kmedians]="--mode kmedians --seed 5"
  [kmedoids_alt]="--mode kmedoids --sample 400 --seed 2"
  [kmedoids_pam]="--mode kmedoids --medoid-method pam --distance manhattan --sample 300 --max-iter 20"
)
for name in minibatch kmedians kmedoids_alt kmedoids_pam; do
  ranks="1 2 3 4"
  [ "$name" = kmedoids_pam ] && ranks="1 3"  # the same ring as kmedoids_alt
  for p in $ranks; do
    # shellcheck disable=SC2086
    mpi "$name.p$p" "$p" "$LIMIT" fit --input "$X" --k 4 ${ARGS[$name]} \
      --output "$TMP/$name.p$p.h5" --json
    check_ran_ok "$name.p$p.exit0"
    [ "$p" -eq 1 ] && { JSON=$(grep -a '^{' "$OUT_FILE"); continue; }
    check_h5_identical "$name.p1_vs_p$p.identical" "$TMP/$name.p1.h5" "$TMP/$name.p$p.h5"
  done
  model=$TMP/$name.p1.h5
  mode=${name%%_*}
  check_eq "$name.json.mode" "$(json_get "$JSON" mode)" "$mode"
  check_eq "$name.model.mode" "$(h5_attr "$model" /mode)" "$mode"
  check_eq "$name.model.centroids" "$(h5_dims "$model" /centroids)" "4 x 5"
  check_eq "$name.model.labels" "$(h5_dims "$model" /labels)" "3000"
  mpi "$name.predict" 3 "$LIMIT" predict --model "$model" --input "$X" \
    --output "$TMP/$name.labels.h5" --json
  check_ran_ok "$name.predict.exit0"
  check_eq "$name.predict.inertia" "$(json_get "$(grep -a '^{' "$OUT_FILE")" inertia)" \
    "$(json_get "$JSON" inertia)"
  check_h5_identical "$name.predict.labels" "$TMP/$name.labels.h5" "$model" /labels /labels
done
check_eq minibatch.counts "$(h5_dims "$TMP/minibatch.p1.h5" /counts)" 4
check minibatch.n_steps "no n_steps attribute" h5_has_attr "$TMP/minibatch.p1.h5" /n_steps
check_eq kmedians.distance "$(h5_attr "$TMP/kmedians.p1.h5" /distance)" manhattan
check_eq kmedoids.medoid_indices "$(h5_dims "$TMP/kmedoids_pam.p1.h5" /medoid_indices)" 4
check_eq kmedoids.distance "$(h5_attr "$TMP/kmedoids_pam.p1.h5" /distance)" manhattan
check_eq kmedoids.method "$(h5_attr "$TMP/kmedoids_pam.p1.h5" /medoid_method)" pam
check_eq kmedoids.sample "$(h5_attr "$TMP/kmedoids_pam.p1.h5" /sample)" 300

# K-medians from a file of centres (k from its rows) = from the same centres given with --k.
INIT="$LLOYD_TEST_DATA/variants_kmedians.h5"
mpi kmedians_init 2 "$LIMIT" fit --input "$INIT:/X" --init "$INIT:/init" --mode kmedians \
  --output "$TMP/kmedians_init.h5" --json
check_ran_ok kmedians_init.exit0
check_eq kmedians_init.k "$(h5_attr "$TMP/kmedians_init.h5" /k)" 4
check_h5_identical kmedians_init.reference "$TMP/kmedians_init.h5" "$INIT" /centroids /expected/centroids

# ---------------------------------------------------------------- out of core
for p in 3; do
  mpi "stream.p$p" "$p" "$LIMIT" fit --input "$X" --k 4 ${ARGS[minibatch]} --stream \
    --output "$TMP/stream.p$p.h5"
  check_ran_ok "stream.p$p.exit0"
  check_h5_identical "stream.p$p.same_as_in_memory" "$TMP/minibatch.p1.h5" "$TMP/stream.p$p.h5"
done
CHUNKED="$LLOYD_TEST_DATA/chunked_gzip.h5"
for source in X X_contiguous; do
  for how in memory stream; do
    extra=""
    [ "$how" = stream ] && extra=--stream
    mpi "chunked.$source.$how" 3 "$LIMIT" fit --input "$CHUNKED:/$source" --k 3 --mode minibatch \
      --batch-size 64 $extra --output "$TMP/chunked.$source.$how.h5"
    check_ran_ok "chunked.$source.$how.exit0"
  done
  check_h5_identical "chunked.$source.stream_same_as_memory" "$TMP/chunked.$source.memory.h5" \
    "$TMP/chunked.$source.stream.h5"
done

# ---------------------------------------------------------------- work bounded as scikit-learn's
# max_iter counts passes over the data and a batch is at most n rows (issue 15: max_iter 1 and
# 10 gave the same fit with n_iter 11 on 100 rows; a batch size of 10^9 ran for minutes).
mpi gen100 1 "$LIMIT" generate --output "$TMP/rows100.h5" --samples 100 --features 10 --centers 3 --seed 1
check_ran_ok gen100.exit0
for m in 1 10; do
  mpi "passes.max_iter$m" 2 "$LIMIT" fit --input "$TMP/rows100.h5:/X" --k 3 --mode minibatch \
    --max-iter "$m" --output "$TMP/passes$m.h5" --json
  check_ran_ok "passes.max_iter$m.exit0"
  json=$(grep -a '^{' "$OUT_FILE")
  check_eq "passes.max_iter$m.n_iter" "$(json_get "$json" n_iter)" "$m"
  check_eq "passes.max_iter$m.n_steps" "$(json_get "$json" n_steps)" "$m"
  eval "INERTIA$m=\$(json_get \"\$json\" inertia)"
done
check passes.more_work_other_fit "max_iter 1 and 10 both give inertia $INERTIA1" [ "$INERTIA1" != "$INERTIA10" ]
mpi huge_batch 3 30 fit --input "$TMP/rows100.h5:/X" --k 3 --mode minibatch --batch-size 1000000000 \
  --output "$TMP/huge_batch.h5" --json
check_ran_ok huge_batch.exit0
check_eq huge_batch.one_pass_per_step "$(json_get "$(grep -a '^{' "$OUT_FILE")" n_iter)" \
  "$(json_get "$(grep -a '^{' "$OUT_FILE")" n_steps)"
# SIGTERM to the launcher ends a long mini-batch fit within seconds and leaves no output.
mkdir -p "$TMP/term"
env "LLOYD_CLI_TEST_TAG=$TAG" $LLOYD_MPIRUN -n 2 "$LLOYD" fit --input "$X" --k 4 --mode minibatch \
  --batch-size 10 --max-iter 100000000 --max-no-improvement 0 --output "$TMP/term/model.h5" \
  >"$TMP/term.out" 2>"$TMP/term.err" </dev/null &
launcher=$!
sleep 3
kill -TERM "$launcher"
for _ in $(seq 100); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$launcher" 2>/dev/null; then
  fail sigterm.ends "still running 10 s after SIGTERM" "$TMP/term.err"
  kill_strays
else
  pass sigterm.ends
fi
wait "$launcher" 2>/dev/null
check sigterm.no_output "output or partial file left: $(ls "$TMP/term")" [ -z "$(ls "$TMP/term")" ]

# ---------------------------------------------------------------- help and bad values
mpi help 2 "$LIMIT" fit --help
check_ran_ok help.exit0
for option in --batch-size --max-no-improvement --reassignment-ratio --stream --medoid-method --distance --sample; do
  check "help.$option" "fit --help lacks $option" grep -q -- "$option" "$OUT_FILE"
done
bad() {
  local name=$1 pattern=$2
  shift 2
  expect_error "$name" "$NP" "$TMP/bad/$name.h5" "$pattern" -- fit --input "$X" --k 4 \
    --output "$TMP/bad/$name.h5" "$@"
}
bad stream_kmedians "--stream" --mode kmedians --stream
bad zero_batch "--batch-size" --mode minibatch --batch-size 0
bad reassignment_ratio "--reassignment-ratio" --mode minibatch --reassignment-ratio 2
bad medoid_method "medoid method" --mode kmedoids --medoid-method fastpam
bad distance "distance" --mode kmedoids --distance chebyshev
bad small_sample "sample" --mode kmedoids --sample 3
bad kmedoids_init "BUILD" --mode kmedoids --init forgy
bad minibatch_init_file "--init" --mode minibatch --init "$LLOYD_TEST_DATA/lloyd_blobs_f64.h5:/init"
expect_error stream_nan "$NP" "$TMP/bad/nan.h5" "NaN" -- fit --input "$LLOYD_TEST_DATA/bad/nan.h5:/X" \
  --k 2 --mode minibatch --stream --output "$TMP/bad/nan.h5"
expect_error kmedians_nan "$NP" "$TMP/bad/nan2.h5" "NaN" -- fit --input "$LLOYD_TEST_DATA/bad/nan.h5:/X" \
  --k 2 --mode kmedians --output "$TMP/bad/nan2.h5"

finish
