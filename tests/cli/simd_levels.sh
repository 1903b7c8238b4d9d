#!/usr/bin/env bash
# End-to-end test: the same model at every SIMD level this CPU supports.
#
#     bash tests/cli/simd_levels.sh /path/to/lloyd
#
#   - `lloyd fit` under LLOYD_SIMD=portable, avx2 and avx512 (those the CPU has; a level it
#     lacks must be refused with one line) writes identical models, with small d (direct
#     scores) and larger d (tiles), float32 and float64, Lloyd and Hamerly, at 1 and 3 ranks,
#     and --json reports the level;
#   - an unknown LLOYD_SIMD stops every rank with one line naming it.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
mpi gen_f32 2 "$LIMIT" generate --output "$TMP/d40_f32.h5" --samples 3000 --features 40 --centers 9 --dtype float32 --seed 4
check_ran_ok generate.d40_f32
mpi gen_f64 2 "$LIMIT" generate --output "$TMP/d40_f64.h5" --samples 3000 --features 40 --centers 9 --dtype float64 --seed 4
check_ran_ok generate.d40_f64

CASES=("blobs_f64:$DATA/lloyd_blobs_f64.h5:/X" "blobs_f32:$DATA/lloyd_blobs_f32.h5:/X"
       "d40_f32:$TMP/d40_f32.h5:/X" "d40_f64:$TMP/d40_f64.h5:/X")
for level in portable avx2 avx512; do
  export LLOYD_SIMD=$level
  mpi "probe.$level" 1 "$LIMIT" fit --input "$DATA/lloyd_blobs_f64.h5:/X" --k 3 --max-iter 1 --json
  if [ "$RC" -ne 0 ] && grep -q "does not support $level" "$ERR_FILE"; then
    check_eq "refused.$level.one_line" "$(lloyd_lines "$ERR_FILE" | wc -l)" 1
    echo "(this CPU has no $level: skipped)"
    continue
  fi
  check_ran_ok "probe.$level"
  check_eq "json.$level" "$(json_get "$(cat "$OUT_FILE")" simd)" "$level"
  for case in "${CASES[@]}"; do
    name=${case%%:*} input=${case#*:}
    for algorithm in lloyd hamerly; do
      for p in 1 3; do
        model=$TMP/$name.$algorithm.p$p.$level.h5
        mpi "fit.$name.$algorithm.p$p.$level" "$p" "$LIMIT" fit --input "$input" --k 7 --seed 3 \
          --algorithm "$algorithm" --max-iter 30 --output "$model"
        check_ran_ok "fit.$name.$algorithm.p$p.$level"
        if [ "$level" != portable ]; then
          check_h5_identical "$name.$algorithm.p$p.$level.same_as_portable" "$TMP/$name.$algorithm.p$p.portable.h5" "$model"
        fi
      done
    done
  done
done

export LLOYD_SIMD=sse9
expect_error simd.unknown_level 3 "$TMP/never.h5" "LLOYD_SIMD=sse9" "unknown SIMD level" -- \
  fit --input "$DATA/lloyd_blobs_f64.h5:/X" --k 3 --output "$TMP/never.h5"
unset LLOYD_SIMD

finish
