#!/usr/bin/env bash
# End-to-end test: a fit stopped with a signal (a plain kill of mpirun, outside Slurm)
# saves its checkpoint, exits 75, and the resumed run writes a model identical to the
# uninterrupted one (h5diff), at 1 and 3 ranks; the checkpoint is removed once done.
#
#     bash tests/cli/checkpoint.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

EXIT_INTERRUPTED=75
LIMIT=120
mpi data 2 "$LIMIT" generate --output "$TMP/data.h5" --samples 60000 --features 16 \
  --centers 24 --cluster-std 3 --seed 9
check_ran_ok data
FIT=(fit --input "$TMP/data.h5:/X" --k 32 --init forgy --n-init 2 --max-iter 60 --tol 0 --seed 3)

# stop_fit NP SIGNAL TARGET DIR FIT-ARGS...: starts a fit writing DIR/model.h5 with the
# checkpoint DIR/state.h5 saved every iteration, and sends SIGNAL to TARGET once the first
# checkpoint exists; the exit status goes to STOP_STATUS.
stop_fit() {
  local np=$1 signal=$2 target=$3 dir=$4
  shift 4
  # shellcheck disable=SC2086  # LLOYD_MPIRUN holds the launcher and its flags
  LLOYD_CLI_TEST_TAG=$TAG $LLOYD_MPIRUN -n "$np" "$LLOYD" "$@" --output "$dir/model.h5" \
    --checkpoint "$dir/state.h5" --checkpoint-every 1 > "$dir/first.out" 2> "$dir/first.err" &
  local launcher=$! waited=0
  while [ ! -f "$dir/state.h5" ] && [ $waited -lt 600 ]; do sleep 0.05; waited=$((waited + 1)); done
  if [ "$target" = launcher ]; then
    kill -s "$signal" "$launcher"
  else
    pkill -"$signal" -P "$launcher"
  fi
  wait "$launcher"
  STOP_STATUS=$?
}

# interrupted_then_resumed NP SIGNAL TARGET: stop a checkpointing fit with SIGNAL once its
# first checkpoint exists, then resume it and compare with the uninterrupted model. TARGET
# "launcher" signals mpirun (which forwards SIGUSR1 to the ranks); "ranks" signals the
# rank processes themselves, as Slurm does with SIGTERM at a time limit (mpirun would
# treat a SIGTERM of its own as "abort the job").
interrupted_then_resumed() {
  local np=$1 signal=$2 target=$3 name="np$1.$2" dir="$TMP/np$1.$2"
  mkdir -p "$dir"
  mpi "$name.reference" "$np" "$LIMIT" "${FIT[@]}" --output "$dir/reference.h5"
  check_ran_ok "$name.reference"

  stop_fit "$np" "$signal" "$target" "$dir" "${FIT[@]}"
  check_eq "$name.exit_status" "$STOP_STATUS" "$EXIT_INTERRUPTED"
  check "$name.no_model_yet" "the stopped run must not write the model" test ! -e "$dir/model.h5"
  check "$name.checkpoint_kept" "the checkpoint must exist" test -s "$dir/state.h5"
  check "$name.says_how_to_resume" "stderr names --resume" grep -q -- "--resume" "$dir/first.err"

  mpi "$name.resume" "$np" "$LIMIT" "${FIT[@]}" --output "$dir/model.h5" \
    --checkpoint "$dir/state.h5" --resume
  check_ran_ok "$name.resume"
  check "$name.resumed_mid_run" "stderr says where it resumed" grep -q "resuming from" "$ERR_FILE"
  check_h5_identical "$name.identical_model" "$dir/reference.h5" "$dir/model.h5"
  check "$name.checkpoint_removed" "a finished fit removes its checkpoint" test ! -e "$dir/state.h5"
}

interrupted_then_resumed 1 USR1 launcher
interrupted_then_resumed 3 USR1 launcher
interrupted_then_resumed 3 TERM ranks

# A checkpoint belongs to the data's content, not to its path: other rows of the same shape
# at the same path are refused (and the checkpoint kept); the same rows at another path resume.
dir=$TMP/other_data
mkdir -p "$dir"
cp "$TMP/data.h5" "$dir/data.h5"
MOVED=(fit --input "$dir/data.h5:/X" --k 32 --init forgy --n-init 2 --max-iter 60 --tol 0 --seed 3)
stop_fit 2 USR1 launcher "$dir" "${MOVED[@]}"
check_eq other_data.stopped "$STOP_STATUS" "$EXIT_INTERRUPTED"
mpi other_data.generate 2 "$LIMIT" generate --output "$dir/data.h5" --force --samples 60000 --features 16 \
  --centers 24 --cluster-std 3 --seed 10
check_ran_ok other_data.generate
cp "$dir/state.h5" "$dir/state.before"
expect_error other_data.refused 2 "$dir/model.h5" "was written for other data" -- \
  "${MOVED[@]}" --output "$dir/model.h5" --checkpoint "$dir/state.h5" --resume
check other_data.checkpoint_kept "the refused checkpoint must stay as it was" cmp -s "$dir/state.before" "$dir/state.h5"
mkdir -p "$dir/moved"
mpi other_data.moved_resume 3 "$LIMIT" "${FIT[@]}" --output "$dir/moved/model.h5" --checkpoint "$dir/state.h5" --resume
check_ran_ok other_data.moved_resume
check other_data.moved_resumed "stderr says where it resumed" grep -q "resuming from" "$ERR_FILE"
check_h5_identical other_data.moved_identical "$TMP/np1.USR1/reference.h5" "$dir/moved/model.h5"

# --resume without a checkpoint file yet is a normal first run.
mpi fresh_resume 2 "$LIMIT" fit --input "$TMP/data.h5:/X" --k 4 --max-iter 3 \
  --checkpoint "$TMP/none.h5" --resume
check_ran_ok fresh_resume
expect_error resume_needs_checkpoint 2 "" "checkpoint" -- "${FIT[@]}" --resume
finish
