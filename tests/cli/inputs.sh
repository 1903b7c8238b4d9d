#!/usr/bin/env bash
# End-to-end test of the input formats: HDF5 (float and integer, FILE.h5 alone meaning
# FILE.h5:/X), NumPy .npy (C and Fortran order, float32/float64, integers, big-endian, format
# 2.0) and CSV/TSV text (header or not, quoted names, CRLF, a column subset) give the SAME fit
# as the float64 HDF5 input (bit-identical centroids and labels) at 1-4 ranks, including a rank
# with no rows; --stream reads .npy by offset; lloyd convert round-trips; every bad input gets
# one line naming the file (and the line and column of CSV text).
#
#     bash tests/cli/inputs.sh /path/to/lloyd
#
# Fixtures: tests/data/inputs/ (scripts/fixtures/make_input_fixtures.py).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=60
IN=$DATA/inputs
FLOAT=$IN/float.h5
INT=$IN/int.h5

# fit_same NAME NP REFERENCE INPUT [ARGS...]: fit INPUT at NP ranks from the reference's
# explicit init; its centroids and labels must be bit-identical to REFERENCE's.
fit_same() {
  local name=$1 np=$2 reference=$3 input=$4
  shift 4
  mpi "$name" "$np" "$LIMIT" fit --input "$input" --k 3 --output "$TMP/$name.h5" "$@"
  check_ran_ok "$name.exit0"
  [ "$RC" -eq 0 ] || return
  check_h5_identical "$name.centroids" "$reference" "$TMP/$name.h5" /centroids /centroids
  check_h5_identical "$name.labels" "$reference" "$TMP/$name.h5" /labels /labels
}

# ---- float64: the HDF5 reference, and scikit-learn's KMeans from the same init
mpi ref.float 1 "$LIMIT" fit --input "$FLOAT:/X" --init "$FLOAT:/init" --k 3 --output "$TMP/ref_float.h5"
check_ran_ok ref.float.exit0
run ref.float.sklearn_centroids 30 h5diff -d 1e-10 "$TMP/ref_float.h5" "$FLOAT" /centroids /expected/centroids
check_ran_ok ref.float.sklearn_centroids
run ref.float.sklearn_labels 30 h5diff "$TMP/ref_float.h5" "$FLOAT" /labels /expected/labels
check_ran_ok ref.float.sklearn_labels

np=1
for input in "$FLOAT" float_c.npy float_f.npy float_be.npy float_v2.npy float_header.csv float_noheader.csv \
             float.tsv float_quoted.csv float_crlf.csv; do
  case $input in */*) ;; *) input=$IN/$input ;; esac
  np=$((np % 4 + 1))
  fit_same "float.$(basename "$input").np$np" "$np" "$TMP/ref_float.h5" "$input" --init "$FLOAT:/init"
done
# More rank counts for the readers that split the file themselves (the loop gave csv 2, npy 3).
for np in 3 4; do
  fit_same "float.csv_more_ranks.np$np" "$np" "$TMP/ref_float.h5" "$IN/float_header.csv" --init "$FLOAT:/init"
done
fit_same "float.npy_fortran_more_ranks.np4" 4 "$TMP/ref_float.h5" "$IN/float_f.npy" --init "$FLOAT:/init"
fit_same float.csv_columns_by_name.np3 3 "$TMP/ref_float.h5" "$IN/float_extra.csv" --columns a,b,c --init "$FLOAT:/init"
fit_same float.csv_columns_by_index.np2 2 "$TMP/ref_float.h5" "$IN/float_extra.csv" --columns 2,3,4 --init "$FLOAT:/init"

# ---- float32 stays float32
mpi ref.float32 1 "$LIMIT" fit --input "$FLOAT:/X32" --init "$FLOAT:/init32" --k 3 --output "$TMP/ref_f32.h5"
check_ran_ok ref.float32.exit0
fit_same float32.npy.np3 3 "$TMP/ref_f32.h5" "$IN/float_f4.npy" --init "$FLOAT:/init32"
fit_same float32.npy_fortran.np4 4 "$TMP/ref_f32.h5" "$IN/float_f4_f.npy" --init "$FLOAT:/init32"
check_eq float32.npy.centroid_type "$(h5_type "$TMP/float32.npy.np3.h5" /centroids)" "H5T_IEEE_F32LE"

# ---- integers read as float64 (as scikit-learn converts them)
mpi ref.int 1 "$LIMIT" fit --input "$INT:/X" --init "$INT:/init" --k 3 --output "$TMP/ref_int.h5"
check_ran_ok ref.int.exit0
run ref.int.sklearn_centroids 30 h5diff -d 1e-10 "$TMP/ref_int.h5" "$INT" /centroids /expected/centroids
check_ran_ok ref.int.sklearn_centroids
np=1
for input in "$INT:/X_u1" "$INT:/X_i2" int_u1.npy int_i8.npy int_be_i4.npy int_u8_f.npy int_header.csv; do
  case $input in */*) ;; *) input=$IN/$input ;; esac
  np=$((np % 4 + 1))
  fit_same "int.$(basename "$input" | tr ':/' '__').np$np" "$np" "$TMP/ref_int.h5" "$input" --init "$INT:/init"
done

# ---- three rows at four ranks: one rank has none
mpi ref.tiny 1 "$LIMIT" fit --input "$IN/tiny.h5:/X" --init "$IN/tiny.h5:/init" --k 2 --output "$TMP/ref_tiny.h5"
check_ran_ok ref.tiny.exit0
for input in tiny.h5 tiny.npy tiny.csv; do
  mpi "tiny.$input.np4" 4 "$LIMIT" fit --input "$IN/$input" --init "$IN/tiny.h5:/init" --k 2 --output "$TMP/tiny_$input.h5"
  check_ran_ok "tiny.$input.np4.exit0"
  check_h5_identical "tiny.$input.np4.centroids" "$TMP/ref_tiny.h5" "$TMP/tiny_$input.h5" /centroids /centroids
done

# ---- out of core: --stream reads .npy rows by offset, as the in-memory fit reads them
MB=(--mode minibatch --batch-size 8 --seed 4 --max-iter 20)
mpi stream.ref 2 "$LIMIT" fit --input "$FLOAT:/X" --k 3 "${MB[@]}" --output "$TMP/mb_ref.h5"
check_ran_ok stream.ref.exit0
for input in float_c.npy float_f.npy; do
  mpi "stream.$input" 3 "$LIMIT" fit --input "$IN/$input" --k 3 "${MB[@]}" --stream --output "$TMP/mb_$input.h5"
  check_ran_ok "stream.$input.exit0"
  check_h5_identical "stream.$input.centroids" "$TMP/mb_ref.h5" "$TMP/mb_$input.h5" /centroids /centroids
done

# ---- predict, evaluate and choose-k take the same inputs
mpi predict.csv 3 "$LIMIT" predict --model "$TMP/ref_float.h5" --input "$IN/float.tsv" --output "$TMP/pred.h5"
check_ran_ok predict.csv.exit0
check_h5_identical predict.csv.labels "$TMP/ref_float.h5" "$TMP/pred.h5" /labels /labels
mpi evaluate.npy 2 "$LIMIT" evaluate --input "$IN/float_f.npy" --labels "$TMP/ref_float.h5" --json
check_ran_ok evaluate.npy.exit0
NPY_SCORES=$(cat "$TMP/evaluate.npy.out")
mpi evaluate.h5 2 "$LIMIT" evaluate --input "$FLOAT" --labels "$TMP/ref_float.h5" --json
for key in silhouette calinski_harabasz davies_bouldin; do
  check_eq "evaluate.npy.$key" "$(json_get "$NPY_SCORES" $key)" "$(json_get "$(cat "$TMP/evaluate.h5.out")" $key)"
done

# ---- convert: written once, collectively; the same matrix back
mpi convert.csv 3 "$LIMIT" convert --input "$IN/float_crlf.csv" --output "$TMP/conv.h5:/X"
check_ran_ok convert.csv.exit0
check_h5_identical convert.csv.values "$FLOAT" "$TMP/conv.h5" /X /X
mpi convert.npy 4 "$LIMIT" convert --input "$IN/int_u8_f.npy" --output "$TMP/conv_int.h5"
check_ran_ok convert.npy.exit0
check_h5_identical convert.npy.values "$INT" "$TMP/conv_int.h5" /X /X
mpi convert.float32 2 "$LIMIT" convert --input "$IN/float_header.csv" --output "$TMP/conv32.h5:/data" --type float32
check_ran_ok convert.float32.exit0
check_h5_identical convert.float32.values "$FLOAT" "$TMP/conv32.h5" /X32 /data
expect_error convert.exists 2 "$TMP/conv.h5" "exists" -- convert --input "$IN/float_c.npy" --output "$TMP/conv.h5:/X"
mpi convert.force 2 "$LIMIT" convert --input "$IN/float_be.npy" --output "$TMP/conv.h5:/X" --force
check_ran_ok convert.force.exit0
check_h5_identical convert.force.values "$FLOAT" "$TMP/conv.h5" /X /X

# ---- bad inputs: one line naming the file (and line and column), every rank stops
B=$TMP/bad
mkdir -p "$B"
OUT=$TMP/bad_out.h5
{ echo "a,b,c"; for i in $(seq 2 40); do echo "$i.5,1,2"; done; } > "$B/good_shape.csv"
sed '7s/.*/6.5,1,x7/' "$B/good_shape.csv" > "$B/number_line7.csv"
sed '33s/.*/32.5,oops,2/' "$B/good_shape.csv" > "$B/number_line33.csv"
sed '12s/.*/11.5,1/' "$B/good_shape.csv" > "$B/ragged.csv"
sed '20s/.*/19.5,nan,2/' "$B/good_shape.csv" > "$B/nan.csv"
sed '25s/.*/24.5,1,1e400/' "$B/good_shape.csv" > "$B/huge.csv"
sed '9s/.*/8.5,,2/' "$B/good_shape.csv" > "$B/missing.csv"
: > "$B/empty.csv"
echo "a,b,c" > "$B/header_only.csv"
cp "$FLOAT" "$B/hdf5_named.csv"
head -c 3000 "$LLOYD" > "$B/binary.csv"
cp "$IN/float_header.csv" "$B/text_named.npy"
cp "$IN/float_header.csv" "$B/data.dat"
head -c 500 "$IN/float_c.npy" > "$B/truncated.npy"
fit_bad() {  # fit_bad NAME NP PATTERN... -- INPUT [ARGS...]
  local name=$1 np=$2 patterns=()
  shift 2
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  expect_error "bad.$name" "$np" "$OUT" "${patterns[@]}" -- fit --k 2 --output "$OUT" --input "$@"
}
fit_bad csv_number_line7 2 "line 7 column 3" "'x7' is not a number" -- "$B/number_line7.csv"
fit_bad csv_number_line33 4 "line 33 column 2 \(b\)" "'oops' is not a number" -- "$B/number_line33.csv"
fit_bad csv_ragged 3 "line 12 has 2 field" "expected 3" -- "$B/ragged.csv"
fit_bad csv_nan 4 "line 20 column 2" "NaN" -- "$B/nan.csv"
fit_bad csv_beyond_double 2 "line 25 column 3" "beyond the range of float64" -- "$B/huge.csv"
fit_bad csv_missing_value 3 "line 9 column 2" "empty" -- "$B/missing.csv"
fit_bad csv_empty 2 "is empty" -- "$B/empty.csv"
fit_bad csv_header_only 3 "no rows" -- "$B/header_only.csv"
fit_bad csv_unknown_column 2 "no column 'zz'" "a, b, c" -- "$B/good_shape.csv" --columns a,zz
fit_bad csv_column_index 2 "index 5 is out of range" -- "$B/good_shape.csv" --columns 5
fit_bad csv_header_value 2 "--csv-header must be auto, yes or no" -- "$B/good_shape.csv" --csv-header maybe
fit_bad csv_is_hdf5 3 "is an HDF5 file, though its name says text" -- "$B/hdf5_named.csv"
fit_bad csv_is_binary 2 "not CSV text" "NUL byte" -- "$B/binary.csv"
fit_bad csv_stream 2 "--stream" "convert it" -- "$B/good_shape.csv" --mode minibatch --stream
fit_bad npy_is_text 2 "not a NumPy .npy file" -- "$B/text_named.npy"
fit_bad npy_truncated 3 "truncated" -- "$B/truncated.npy"
fit_bad npy_object 4 "object elements" "dtype '\|O'" -- "$IN/bad_object.npy"
fit_bad npy_bool 2 "bool elements" -- "$IN/bad_bool.npy"
fit_bad npy_one_dimensional 3 "1-D array" "reshape" -- "$IN/bad_oned.npy"
fit_bad npy_three_dimensional 2 "3 dimension" -- "$IN/bad_threed.npy"
fit_bad npy_csv_options 2 "apply to CSV input" -- "$IN/float_c.npy" --csv-header no
fit_bad hdf5_no_x 3 "no dataset /X" ":/Y, " ":/data" -- "$IN/no_x.h5"
fit_bad unknown_format 2 "cannot tell the format" -- "$B/data.dat"

finish
