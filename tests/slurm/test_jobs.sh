#!/usr/bin/env bash
# End-to-end test of jobs/ on a real one-node Slurm (scripts/slurm/start.sh): every job
# script is submitted with small data, and its outputs are checked:
#   - fit.sbatch gives the same model as mpirun; stopped with `scancel --signal=USR1` (to
#     the ranks, at 1 and 3 ranks) and with `scancel -b --signal=USR1` (to the batch shell,
#     which forwards it), it saves its checkpoint, requeues itself and ends with a model
#     identical to the uninterrupted one;
#   - sweep_k.sbatch (array over K) writes one model and one JSON line per K;
#   - choose_k.sbatch writes the sweep, its JSON recommendations and progress lines;
#   - strong_scaling.sbatch and weak_scaling.sbatch write their CSVs and PNGs.
# Needs root (exit 77 = skipped otherwise).
#
#     bash tests/slurm/test_jobs.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
lib_init "$@"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "# skipped: starting slurmctld/slurmd needs root"
  exit 77
fi
export LLOYD_SLURM_DIR="$TMP/slurm"
# munged runs once Slurm is up: PMIx's own security plugin choice, as on a real cluster.
unset PMIX_MCA_psec
START_OUTPUT=$("$ROOT/scripts/slurm/start.sh" 2> "$TMP/slurm-start.err") || {
  fail slurm_start "scripts/slurm/start.sh failed" "$TMP/slurm-start.err"
  finish
}
eval "$START_OUTPUT"
pass slurm_start
trap '"$ROOT/scripts/slurm/stop.sh"; kill_strays; rm -rf -- "$TMP"' EXIT
JOB_LIMIT=300

# wait_job ID: waits until job ID has ended, releasing it when a requeue left it waiting for
# its begin time (Slurm delays requeued jobs); sets JOB_STATE.
wait_job() {
  local id=$1 waited=0 info
  while [ $waited -lt $((JOB_LIMIT * 4)) ]; do
    info=$(scontrol show job "$id" 2>/dev/null)
    JOB_STATE=$(grep -oP 'JobState=\K\w+' <<< "$info")
    case "$JOB_STATE" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) return ;;
    esac
    if grep -q 'Reason=BeginTime' <<< "$info"; then
      scontrol update JobId="$id" StartTime=now >/dev/null 2>&1
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  JOB_STATE=TIMEOUT_IN_TEST
}

# submit NAME SBATCH-ARGS...: submits, waits, checks the job completed; sets JOB_ID.
submit() {
  local name=$1
  shift
  JOB_ID=$(cd "$TMP" && sbatch --parsable "$@" 2> "$TMP/$name.sbatch.err") || {
    fail "$name.submitted" "sbatch failed" "$TMP/$name.sbatch.err"
    return 1
  }
  wait_job "$JOB_ID"
  check_eq "$name.completed" "$JOB_STATE" COMPLETED
}

mpi data 2 120 generate --output "$TMP/data.h5" --samples 40000 --features 16 --centers 12 \
  --cluster-std 3 --seed 4
check_ran_ok data
FIT_ARGS="--init forgy --n-init 2 --max-iter 80 --tol 0 --seed 6"
mpi reference 2 120 fit --input "$TMP/data.h5:/X" --k 16 $FIT_ARGS --output "$TMP/reference.h5"
check_ran_ok reference

# ------------------------------------------------------------------ a plain fit job
mkdir -p "$TMP/fit"
submit fit --ntasks=2 --export=ALL,INPUT="$TMP/data.h5:/X",K=16,OUTPUT="$TMP/fit/model.h5",LLOYD="$LLOYD",LLOYD_ARGS="$FIT_ARGS" \
  "$ROOT/jobs/fit.sbatch" || true
check_h5_identical fit.same_model_as_mpirun "$TMP/reference.h5" "$TMP/fit/model.h5"
check fit.json "the job writes the JSON result next to the model" grep -q '"inertia"' "$TMP/fit/model.json"

# ------------------------------------------------------------------ stopped and requeued
# stopped_fit NAME NTASKS SCANCEL-FLAGS: once the first checkpoint exists, signal the job;
# it must requeue itself and finish with the uninterrupted model.
stopped_fit() {
  local name=$1 ntasks=$2 flags=$3 dir="$TMP/$1" waited=0
  mkdir -p "$dir"
  JOB_ID=$(cd "$TMP" && sbatch --parsable --ntasks="$ntasks" --overcommit \
    --export=ALL,INPUT="$TMP/data.h5:/X",K=16,OUTPUT="$dir/model.h5",LLOYD="$LLOYD",LLOYD_ARGS="$FIT_ARGS --checkpoint-every 1" \
    "$ROOT/jobs/fit.sbatch")
  while [ ! -f "$dir/model.checkpoint.h5" ] && [ $waited -lt 1200 ]; do sleep 0.05; waited=$((waited + 1)); done
  # shellcheck disable=SC2086  # flags is a list
  scancel $flags --signal=USR1 "$JOB_ID"
  wait_job "$JOB_ID"
  check_eq "$name.completed" "$JOB_STATE" COMPLETED
  check "$name.was_requeued" "the job log shows a requeue" \
    grep -q "requeueing job" "$TMP/lloyd-fit-$JOB_ID.out"
  check "$name.resumed" "lloyd resumed from the checkpoint" grep -q "resuming from" "$dir/model.log"
  check_h5_identical "$name.identical_model" "$TMP/reference.h5" "$dir/model.h5"
  check "$name.checkpoint_removed" "the finished fit removed its checkpoint" \
    test ! -e "$dir/model.checkpoint.h5"
}
stopped_fit usr1_np1 1 ""
stopped_fit usr1_np3 3 ""
stopped_fit usr1_batch_np2 2 "-b"

# ------------------------------------------------------------------ sweep over K
JOB_ID=$(cd "$TMP" && sbatch --parsable --array=2-4 --ntasks=2 \
  --export=ALL,INPUT="$TMP/data.h5:/X",OUTDIR="$TMP/sweep",LLOYD="$LLOYD",LLOYD_ARGS="--seed 1" \
  "$ROOT/jobs/sweep_k.sbatch")
for k in 2 3 4; do
  wait_job "${JOB_ID}_$k"
  check_eq "sweep.k$k.completed" "$JOB_STATE" COMPLETED
  check "sweep.k$k.model" "model for K=$k" h5_is_model "$TMP/sweep/model-k$k.h5"
  check_eq "sweep.k$k.json_k" "$(json_get "$(cat "$TMP/sweep/model-k$k.json" 2>/dev/null)" k)" "$k"
done

# ------------------------------------------------------------------ choose K
mkdir -p "$TMP/choose"
submit choose_k --ntasks=2 --export=ALL,INPUT="$TMP/data.h5:/X",KMIN=2,KMAX=4,SWEEP="$TMP/choose/sweep.h5",LLOYD="$LLOYD",LLOYD_ARGS="--gap-refs 2 --seed 1" \
  "$ROOT/jobs/choose_k.sbatch" || true
check choose_k.sweep "the sweep file has the per-K inertia" test -n "$(h5_dims "$TMP/choose/sweep.h5" /inertia)"
check choose_k.json "the JSON recommendations" grep -q '"recommended' "$TMP/choose/sweep.json"
check choose_k.progress "a progress line per fit" grep -q "k=4" "$TMP/choose/sweep.log"

# ------------------------------------------------------------------ scaling experiments
for mode in strong weak; do
  mkdir -p "$TMP/$mode"
  submit "$mode" --ntasks=2 --export=ALL,LLOYD_ROOT="$ROOT",LLOYD="$LLOYD",OUTDIR="$TMP/$mode",ROWS=20000,SCALING_ARGS="--repeats 1 --iterations 3 --features 8 --k 8" \
    "$ROOT/jobs/${mode}_scaling.sbatch" || true
  check "$mode.csv" "scaling.csv with a row per run" test "$(wc -l < "$TMP/$mode/scaling.csv" 2>/dev/null || echo 0)" -eq 3
  check "$mode.summary" "scaling-summary.csv" test -s "$TMP/$mode/scaling-summary.csv"
  check "$mode.png" "the $mode.png plot" test -s "$TMP/$mode/$mode.png"
done
finish
