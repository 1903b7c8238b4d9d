#!/usr/bin/env bash
# End-to-end test: help texts, the layout of a model file, predict, --verbose.
#
#     bash tests/cli/cli_basics.sh /path/to/lloyd
#
# Environment: LLOYD_MPIRUN (launcher and flags, default "mpirun --oversubscribe"),
# LLOYD_TEST_DATA (default tests/data).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
BLOBS=$DATA/lloyd_blobs_f64.h5

# ---------------------------------------------------------------- help

# check_help NAME "OPTION[=DEFAULT] ..." LLOYD-ARGS...: at 2 ranks the help exits 0, is
# printed once, and has a line for every OPTION that also shows its DEFAULT.
check_help() {
  local name=$1 options=$2 opt flag default line problems=()
  shift 2
  mpi "$name" 2 "$LIMIT" "$@"
  check_ran_ok "$name.exit0"
  local usages
  usages=$(grep -c '^usage:' "$OUT_FILE")
  [ "$usages" -eq 1 ] || problems+=("'usage:' printed $usages times on stdout, expected once")
  for opt in $options; do
    flag=${opt%%=*}
    default=""
    [ "$flag" != "$opt" ] && default=${opt#*=}
    # Option lines are indented by two spaces, wrapped descriptions by more.
    line=$(grep -a -E -e "^  $flag( |$)" "$OUT_FILE" | head -n 1)
    if [ -z "$line" ]; then problems+=("option $flag not listed")
    elif [ -n "$default" ] && [[ "$line" != *"$default"* ]]; then
      problems+=("option $flag lacks its default '$default': $line")
    fi
  done
  if [ ${#problems[@]} -eq 0 ]; then pass "$name.options"
  else local IFS=';'; fail "$name.options" "${problems[*]}" "$OUT_FILE"; fi
}

check_help help "fit predict generate" --help
check_help fit_help "--input --k --output --init=k-means++ --n-init=1 --max-iter=300 --tol=0.0001 --seed=0 --json --verbose --force" fit --help
check_help predict_help "--model --input --output --json --force" predict --help
check_help generate_help "--output --samples --features --centers --cluster-std=1 --dtype=float64 --seed=0 --force" generate --help

mpi no_args 2 "$LIMIT"
if timed_out; then fail no_args.nonzero "hang"
elif [ "$RC" -eq 0 ]; then fail no_args.nonzero "exit status 0, expected non-zero"
else pass no_args.nonzero; fi

expect_error unknown_command 2 "" "unknown command" "frobnicate" -- frobnicate --k 3

# --version: printed once at 2 ranks, exit 0, with the release, the commit and what this run got
# (MPI library, HDF5 library, SIMD level); a bad LLOYD_SIMD is named, not fatal, here.
mpi version 2 "$LIMIT" --version
check_ran_ok version.exit0
check_eq version.once "$(grep -c '^lloyd [0-9]' "$OUT_FILE")" 1
check version.contents "lacks the release, commit, MPI, HDF5 or SIMD line: $(tr '\n' '|' <"$OUT_FILE")" \
  bash -c "grep -Eq '^lloyd [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}|unknown)\)' '$OUT_FILE' &&
           grep -q '^MPI: ' '$OUT_FILE' && grep -Eq '^HDF5: [0-9]+\.[0-9]+\.[0-9]+$' '$OUT_FILE' &&
           grep -Eq '^SIMD kernels: (portable|avx2|avx512) ' '$OUT_FILE'"
LLOYD_SIMD=sse9 mpi version_bad_simd 1 "$LIMIT" --version
check_ran_ok version_bad_simd.exit0
check version_bad_simd.named "does not name the bad LLOYD_SIMD: $(tr '\n' '|' <"$OUT_FILE")" \
  grep -q '^SIMD kernels: none (.*sse9' "$OUT_FILE"

# ---------------------------------------------------------------- model layout

MODEL=$TMP/model.h5
mpi fit 3 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --init "$BLOBS:/init" --output "$MODEL"
check_ran_ok fit.exit0

N_ITER=$(h5_attr "$MODEL" /n_iter)
EXPECTED_N_ITER=$(h5_attr "$BLOBS" /expected/n_iter)
check_eq model.centroids.shape "$(h5_dims "$MODEL" /centroids)" "6 x 5"
check_eq model.centroids.type "$(h5_type "$MODEL" /centroids)" H5T_IEEE_F64LE
check_eq model.labels.shape "$(h5_dims "$MODEL" /labels)" "997"
LABEL_TYPE=$(h5_type "$MODEL" /labels)
check model.labels.integer_type "/labels has type '$LABEL_TYPE', expected H5T_STD_[IU]*" \
  grep -Eq '^H5T_STD_[IU](8|16|32|64)(LE|BE)$' <<<"$LABEL_TYPE"
for attr in inertia n_iter converged k seed init; do
  check "model.attr.$attr" "root attribute '$attr' missing" h5_has_attr "$MODEL" "/$attr"
done
check model.n_iter.positive "n_iter attribute '$N_ITER' is not a positive integer" \
  grep -Eq '^[1-9][0-9]*$' <<<"$N_ITER"
check_eq model.n_iter.matches_fixture "$N_ITER" "$EXPECTED_N_ITER"
check_eq model.k "$(h5_attr "$MODEL" /k)" 6
check_eq model.history.inertia.shape "$(h5_dims "$MODEL" /history/inertia)" "$N_ITER"
check_eq model.history.center_shift.shape "$(h5_dims "$MODEL" /history/center_shift)" "$N_ITER"
check_h5_identical model.labels.match_fixture "$MODEL" "$BLOBS" /labels /expected/labels
check model.no_partial "stray partial file(s)" test -z "$(partial_files "$TMP")"
check_eq model.format_version "$(h5_attr "$MODEL" /format_version)" 1
# String attributes are variable-length UTF-8 (docs/model-format.md): h5py returns str, not
# bytes, for every one of them.
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  STRINGS=$(/usr/bin/python3 -c '
import sys, h5py
attrs = h5py.File(sys.argv[1], "r").attrs
print(" ".join(f"{name}:{type(attrs[name]).__name__}" for name in sorted(attrs)
               if isinstance(attrs[name], (str, bytes)) or getattr(attrs[name], "dtype", None) is not None
               and attrs[name].dtype.kind in "SOU"))' "$MODEL")
  check_eq model.strings_are_str "$STRINGS" "algorithm:str assignment:str init:str input:str metric:str"
else
  echo "SKIP model.strings_are_str: /usr/bin/python3 has no h5py"
fi

# ---------------------------------------------------------------- predict

LABELS=$TMP/labels.h5
mpi predict 2 "$LIMIT" predict --model "$MODEL" --input "$BLOBS:/X" --output "$LABELS"
check_ran_ok predict.exit0
check_h5_identical predict.labels_equal_model_labels "$MODEL" "$LABELS" /labels /labels
check predict.no_partial "stray partial file(s)" test -z "$(partial_files "$TMP")"

# ---------------------------------------------------------------- --verbose

mpi verbose 3 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --init "$BLOBS:/init" --verbose
check_ran_ok verbose.exit0
# Whole-word "iter" (not "n_iter" of a summary line), on stderr, printed by rank 0 only.
check_eq verbose.one_line_per_iteration "$(grep -a -c -w 'iter' "$ERR_FILE")" "$N_ITER"

finish
