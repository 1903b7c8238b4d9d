#!/usr/bin/env bash
# End-to-end test: every mode checkpoints through the one loop. For cosine, K-medians,
# mini-batch (streamed), K-medoids and bisecting: a fit at 3 ranks stopped with SIGUSR1
# once its first checkpoint exists exits 75 without a model; resumed at 2 ranks it writes a
# model identical (h5diff) to an uninterrupted run at 1 rank, and removes its checkpoint.
#
#     bash tests/cli/checkpoint_modes.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

EXIT_INTERRUPTED=75
LIMIT=240
mpi data 2 "$LIMIT" generate --output "$TMP/data.h5" --samples 40000 --features 8 \
  --centers 16 --cluster-std 3 --dtype float32 --seed 5
check_ran_ok data

# stop_then_resume NAME FIT-ARGS...: the reference at 1 rank; a run at 3 ranks that saves a
# checkpoint every iteration and gets SIGUSR1 (through mpirun) once the first exists; the
# resumed run at 2 ranks.
stop_then_resume() {
  local name=$1 dir="$TMP/$1"
  shift
  mkdir -p "$dir"
  mpi "$name.reference" 1 "$LIMIT" fit --input "$TMP/data.h5:/X" "$@" --output "$dir/reference.h5"
  check_ran_ok "$name.reference"

  # shellcheck disable=SC2086  # LLOYD_MPIRUN holds the launcher and its flags
  LLOYD_CLI_TEST_TAG=$TAG $LLOYD_MPIRUN -n 3 "$LLOYD" fit --input "$TMP/data.h5:/X" "$@" \
    --output "$dir/model.h5" --checkpoint "$dir/state.h5" --checkpoint-every 1 \
    > "$dir/first.out" 2> "$dir/first.err" &
  local launcher=$! waited=0
  while [ ! -f "$dir/state.h5" ] && [ $waited -lt 1200 ]; do sleep 0.05; waited=$((waited + 1)); done
  kill -s USR1 "$launcher"
  wait "$launcher"
  check_eq "$name.exit_status" "$?" "$EXIT_INTERRUPTED"
  check "$name.no_model_yet" "the stopped run must not write the model" test ! -e "$dir/model.h5"
  check "$name.checkpoint_kept" "the checkpoint must exist" test -s "$dir/state.h5"

  mpi "$name.resume" 2 "$LIMIT" fit --input "$TMP/data.h5:/X" "$@" --output "$dir/model.h5" \
    --checkpoint "$dir/state.h5" --resume
  check_ran_ok "$name.resume"
  check "$name.resumed_mid_run" "stderr says where it resumed" grep -q "resuming from" "$ERR_FILE"
  check_h5_identical "$name.identical_model" "$dir/reference.h5" "$dir/model.h5"
  check "$name.checkpoint_removed" "a finished fit removes its checkpoint" test ! -e "$dir/state.h5"
}

stop_then_resume cosine --metric cosine --k 24 --init forgy --n-init 2 --max-iter 80 --tol 0 --seed 3
stop_then_resume kmedians --mode kmedians --k 16 --init forgy --n-init 2 --max-iter 40 --tol 0 --seed 3
stop_then_resume minibatch --mode minibatch --stream --k 16 --batch-size 256 --max-iter 4 \
  --max-no-improvement 0 --seed 3
stop_then_resume kmedoids --mode kmedoids --medoid-method pam --sample 3000 --k 24 --seed 3
stop_then_resume bisecting --mode bisecting --k 40 --init forgy --n-init 3 --max-iter 300 --tol 0 --seed 3

# A checkpoint of one mode is not resumed by another (and stays as it was).
dir=$TMP/kmedians
LLOYD_CLI_TEST_TAG=$TAG $LLOYD_MPIRUN -n 2 "$LLOYD" fit --input "$TMP/data.h5:/X" --mode kmedians --k 16 \
  --init forgy --max-iter 40 --tol 0 --seed 3 --checkpoint "$dir/other.h5" --checkpoint-every 1 \
  > "$dir/other.out" 2> "$dir/other.err" &
launcher=$! waited=0
while [ ! -f "$dir/other.h5" ] && [ $waited -lt 1200 ]; do sleep 0.05; waited=$((waited + 1)); done
kill -s USR1 "$launcher"
wait "$launcher"
check_eq other_mode.stopped "$?" "$EXIT_INTERRUPTED"
cp "$dir/other.h5" "$dir/other.before"
expect_error other_mode.refused 2 "$dir/other_model.h5" "belongs to another fit: the method" -- \
  fit --input "$TMP/data.h5:/X" --k 16 --init forgy --max-iter 40 --tol 0 --seed 3 \
  --output "$dir/other_model.h5" --checkpoint "$dir/other.h5" --resume
check other_mode.checkpoint_kept "the refused checkpoint must stay as it was" cmp -s "$dir/other.before" "$dir/other.h5"
finish
