#!/usr/bin/env bash
# End-to-end test: values whose squares overflow (issue 21; item 11 of issue 15) are refused
# where they are read, at 1-4 ranks, by every command and every way of reading rows.
#
#     bash tests/cli/extreme_values.sh /path/to/lloyd
#
# Before, ±1.7e308 in float64 aborted with heap corruption (k = 4) or exited 0 with
# "inertia: inf" (k = 2), 1e200 gave mixed clusters, and float32 data holding 3e38 gave other
# centroids at 1 rank than at 2-4. Now every case must exit non-zero on every rank within the
# time limit, leave no output and no *.partial-* file, and print one line naming the row, the
# column and the value (expect_error in lib.sh). Fixtures: tests/data/bad/overflow_*.h5 and
# csr_huge.h5 (scripts/fixtures/make_fixtures.py, make_text_fixtures.py).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

F64=$BAD/overflow_f64.h5
F32=$BAD/overflow_f32.h5

# refused NAME NP PATTERN... -- COMMAND ARGS...: the command (writing $TMP/NAME/out.h5) must
# fail with one line matching the patterns.
refused() {
  local name=$1 np=$2
  shift 2
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  expect_error "$name" "$np" "$TMP/$name/out.h5" "${patterns[@]}" -- "$@" --output "$TMP/$name/out.h5"
}

# ---- fit: issue 21's reproduction with every algorithm and k = 2, 4 (direct kernel, d = 4)
for np in 1 2 3 4; do
  for algorithm in lloyd hamerly yinyang; do
    for k in 2 4; do
      refused "fit.issue21.$algorithm.k$k.p$np" "$np" "row 0 column 0 holds 1\.7e\+308" "float64" -- \
        fit --input "$F64:/X" --k "$k" --tol 0 --algorithm "$algorithm"
    done
  done
  refused "fit.dbl_max.p$np" "$np" "row 0 column 0 holds 1\.79769e\+308" -- fit --input "$F64:/dbl_max" --k 4
  refused "fit.1e200.p$np" "$np" "row 12 column 0 holds 1e\+200" "beyond 1\.95e\+143" -- \
    fit --input "$F64:/big" --k 4 --algorithm hamerly
  refused "fit.f32_3e38.p$np" "$np" "row 7 column 1 holds 3e\+38" "float32" -- fit --input "$F32:/X" --k 4
  refused "fit.csr.p$np" "$np" "row 3 column 1 holds 1e\+200" -- fit --input "$BAD/csr_huge.h5:/X" --k 2
done

# ---- other modes and ways of reading: k-means++ and k-means|| seeding, bisecting, cosine on
# CSR, mini-batch in memory and streamed from the file (RowReader::read_block), k-medians
refused fit.bisecting 3 "row 12 column 0 holds 1e\+200" -- fit --input "$F64:/big" --k 4 --mode bisecting
refused fit.kmeans_parallel 2 "row 0 column 0 holds 1\.7e\+308" -- fit --input "$F64:/X" --k 4 --init 'k-means||'
refused fit.cosine 2 "row 3 column 1 holds 1e\+200" -- fit --input "$BAD/csr_huge.h5:/X" --k 2 --metric cosine
refused fit.minibatch 3 "row 12 column 0 holds 1e\+200" -- fit --input "$F64:/big" --k 4 --mode minibatch
for np in 1 4; do
  refused "fit.stream.p$np" "$np" "row 12 column 0 holds 1e\+200" -- \
    fit --input "$F64:/big" --k 4 --mode minibatch --stream
done
refused fit.kmedians 2 "row 7 column 1 holds 3e\+38" -- fit --input "$F32:/X" --k 4 --mode kmedians
# Initial centres beyond the range, with good data.
refused fit.init 2 "centroids_big" "row 2 column 3 holds -1e\+200" -- \
  fit --input "$F64:/good" --k 4 --init "$F64:/centroids_big"

# ---- predict: data or centroids beyond the range
mkdir -p "$TMP/model"
mpi model 2 60 fit --input "$F64:/good" --k 4 --output "$TMP/model/model.h5"
check_ran_ok model.fit_on_good_rows
for np in 1 2 3 4; do
  refused "predict.data.p$np" "$np" "row 0 column 0 holds 1\.7e\+308" -- \
    predict --model "$TMP/model/model.h5" --input "$F64:/X"
  refused "predict.centroids.p$np" "$np" "row 2 column 3 holds -1e\+200" -- \
    predict --model "$F64:/centroids_big" --input "$F64:/good"
done

# ---- evaluate: the data beyond the range (labels fine)
for np in 1 2 3 4; do
  refused "evaluate.p$np" "$np" "row 12 column 0 holds 1e\+200" -- \
    evaluate --input "$F64:/big" --labels "$F64:/labels"
done

finish
