#!/bin/bash
# Shared body of jobs/strong_scaling.sbatch and jobs/weak_scaling.sbatch: runs
# scripts/scaling.py --mode MODE with srun inside the current allocation.
#   jobs/scaling.sh strong|weak
set -euo pipefail
MODE="${1:?usage: jobs/scaling.sh strong|weak}"
LLOYD_ROOT="${LLOYD_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
OUTDIR="${OUTDIR:-$MODE-scaling-${SLURM_JOB_ID:-local}}"
mkdir -p "$OUTDIR"
# shellcheck disable=SC2086  # SCALING_ARGS is a list of options
/usr/bin/python3 "$LLOYD_ROOT/scripts/scaling.py" --mode "$MODE" --launcher srun \
  --max-ranks "${SLURM_NTASKS:-1}" --rows "${ROWS:-1000000}" --out "$OUTDIR" \
  --lloyd "${LLOYD:-$LLOYD_ROOT/build/lloyd}" ${SCALING_ARGS:-} 2>&1 | tee "$OUTDIR/scaling.log"
