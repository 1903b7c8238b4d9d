#!/usr/bin/env bash
# End-to-end test: lloyd rejects bad input at 4 ranks with one clear error line.
#
#     bash tests/cli/bad_input.sh /path/to/lloyd
#
# Environment: LLOYD_MPIRUN (launcher and flags, default "mpirun --oversubscribe"),
# LLOYD_TEST_DATA (default tests/data). Every case must exit non-zero within 60 s, leave
# no output and no *.partial-* file, and print exactly one "lloyd..." line on stderr that
# names the problem (see expect_error in lib.sh).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

NP=4
GOOD=$BAD/good.h5

# fit_error NAME PATTERN... -- FIT-ARGS...: `lloyd fit FIT-ARGS --output $TMP/NAME/out.h5`
# must fail; every case gets its own output directory so that leftovers are its own.
fit_error() {
  local name=$1
  shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  expect_error "$name" "$NP" "$TMP/$name/out.h5" "${patterns[@]}" -- \
    fit "$@" --output "$TMP/$name/out.h5"
}

# ---- input files and datasets
fit_error missing_file      "does not exist"    -- --input "$TMP/nonexistent.h5:/X" --k 3
fit_error not_hdf5          "not an HDF5 file"  -- --input "$BAD/not_hdf5.h5:/X" --k 3
fit_error missing_dataset   "no dataset"        -- --input "$GOOD:/nope" --k 3
fit_error missing_group     "no dataset"        -- --input "$GOOD:/a/b/c" --k 3
fit_error one_dimensional   "dimension"         -- --input "$BAD/oned.h5:/X" --k 3
fit_error three_dimensional "dimension"         -- --input "$BAD/threed.h5:/X" --k 3
fit_error enum_dtype        "enum"              -- --input "$DATA/inputs/bad_bool.h5:/X" --k 3
fit_error string_dtype      "string"            -- --input "$BAD/string.h5:/X" --k 3
fit_error zero_rows         "no rows"           -- --input "$BAD/zero_rows.h5:/X" --k 3
fit_error nan_value         "row 37" "NaN"      -- --input "$BAD/nan.h5:/X" --k 3
fit_error inf_value         "row 41" "Inf"      -- --input "$BAD/inf.h5:/X" --k 3
fit_error shard_out_of_memory "out of memory allocating" "rows of" "GB" -- --input "$BAD/huge_declared.h5:/X" --k 3

# ---- k and initial centres
fit_error k_zero            "must be between 1 and the number of rows" -- --input "$GOOD:/X" --k 0
fit_error k_exceeds_n       "must be between 1 and the number of rows" -- --input "$GOOD:/X" --k 51
fit_error init_wrong_shape  "expected"          -- --input "$GOOD:/X" --k 4 --init "$GOOD:/init_wrong_shape"
fit_error init_k_mismatch   "expected"          -- --input "$GOOD:/X" --k 3 --init "$GOOD:/init_ok"
fit_error unknown_init      "unknown --init"    -- --input "$GOOD:/X" --k 3 --init kmeans

# ---- command line
fit_error unknown_option    "unrecogni[sz]ed"   -- --input "$GOOD:/X" --k 3 --frobnicate 3
fit_error missing_input     "required"          -- --k 3
# More threads than the OpenMP runtime survives (SIGSEGV at 100000): one line, every command.
fit_error threads_absurd    "--threads 100000" "CPUs" -- --input "$GOOD:/X" --k 3 --threads 100000
OMP_NUM_THREADS=100000 fit_error omp_threads_absurd "OMP_NUM_THREADS=100000" -- --input "$GOOD:/X" --k 3

# ---- output equal to the input: refused, input untouched
mkdir -p "$TMP/same_path"
cp "$GOOD" "$TMP/same_path/good.h5"
expect_error output_is_input "$NP" "$TMP/same_path/good.h5" "also an input" -- \
  fit --input "$TMP/same_path/good.h5:/X" --k 3 --output "$TMP/same_path/good.h5"
check output_is_input.unchanged "input file differs from tests/data/bad/good.h5" \
  cmp -s "$GOOD" "$TMP/same_path/good.h5"

# ---- existing output: refused without --force (file untouched), replaced with --force
mkdir -p "$TMP/preexisting"
printf 'precious, not a model\n' >"$TMP/preexisting/out.h5"
cp "$TMP/preexisting/out.h5" "$TMP/preexisting.orig"
expect_error output_exists "$NP" "$TMP/preexisting/out.h5" "exists" -- \
  fit --input "$GOOD:/X" --k 3 --output "$TMP/preexisting/out.h5"
check output_exists.untouched "pre-existing output changed" cmp -s "$TMP/preexisting.orig" "$TMP/preexisting/out.h5"

mpi output_exists_force "$NP" 60 fit --input "$GOOD:/X" --k 3 --output "$TMP/preexisting/out.h5" --force
check_ran_ok output_exists_force.exit0
check output_exists_force.is_model "output is not a model with /centroids" h5_is_model "$TMP/preexisting/out.h5"
check output_exists_force.no_partial "stray partial file(s) left" test -z "$(partial_files "$TMP/preexisting")"

# ---- a successful fit leaves the final file, not a partial one
mkdir -p "$TMP/success"
mpi fit_success "$NP" 60 fit --input "$GOOD:/X" --k 3 --output "$TMP/success/model.h5"
check_ran_ok fit_success.exit0
check fit_success.output_is_model "no model with /centroids at the output path" h5_is_model "$TMP/success/model.h5"
check fit_success.no_partial "stray partial file(s): $(partial_files "$TMP/success")" \
  test -z "$(partial_files "$TMP/success")"
check_eq fit_success.only_output "$(ls -A "$TMP/success")" "model.h5"

# ---- predict: model (d = 3) and input (d = 5) disagree on the number of features
if [ -f "$TMP/success/model.h5" ]; then
  expect_error predict_feature_mismatch "$NP" "$TMP/predict/labels.h5" "features" -- \
    predict --model "$TMP/success/model.h5" --input "$DATA/lloyd_blobs_f64.h5:/X" \
    --output "$TMP/predict/labels.h5"
else
  fail predict_feature_mismatch "no model: the fit above failed"
fi

# ---- generate: unsupported dtype
expect_error generate_bad_dtype "$NP" "$TMP/generate/out.h5" "dtype" -- \
  generate --output "$TMP/generate/out.h5" --samples 100 --features 2 --centers 2 --dtype int8

# ---- generate: counts that are negative, zero or absurd get one line of lloyd's (not
# "vector::_M_default_append" or "std::bad_alloc")
generate_error() {
  local name=$1 pattern=$2
  shift 2
  expect_error "generate_$name" "$NP" "$TMP/generate/out.h5" "$pattern" -- \
    generate --output "$TMP/generate/out.h5" "$@"
}
generate_error negative_samples "--samples must be at least 1 \(got -10\)" --samples -10 --features 2 --centers 2
generate_error zero_features "--features must be at least 1" --samples 10 --features 0 --centers 2
generate_error negative_centers "--centers must be between 1 and --samples" --samples 10 --features 2 --centers -3
generate_error centers_exceed_samples "--centers must be between 1 and --samples" --samples 10 --features 2 --centers 11
generate_error negative_seed "--seed must be >= 0" --samples 10 --features 2 --centers 2 --seed -1
# A spread that is not finite, negative, or overflows the dtype would write non-finite data.
for std in inf nan -1 1e38; do
  generate_error "cluster_std_$std" "--cluster-std must be a finite number from 0 to 3.93e\+37 for float32" \
    --samples 10 --features 2 --centers 2 --dtype float32 --cluster-std "$std"
done
mpi generate_cluster_std_limit "$NP" 60 generate --output "$TMP/generate/wide.h5" --samples 200 \
  --features 3 --centers 2 --dtype float32 --cluster-std 3.9e37
check_ran_ok generate_cluster_std_limit.exit0
check generate_cluster_std_limit.finite "non-finite values in /X" \
  bash -c "h5dump -d /X '$TMP/generate/wide.h5' | grep -qi -e inf -e nan && exit 1 || exit 0"
generate_error out_of_memory "out of memory allocating the rank's [0-9]+ rows \([0-9.]+ GB\)" \
  --samples 1000000000000 --features 1000 --centers 3

finish
