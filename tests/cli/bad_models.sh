#!/usr/bin/env bash
# End-to-end test: `predict` and `top-terms` read models through one validating reader. Models
# written by h5py (variable-length string attributes) are accepted; models with unknown
# attribute values, non-finite centres, or a bisecting tree that does not hold together are
# refused on every rank with one line naming the model and the field, at 1 and 3 ranks.
#
#     bash tests/cli/bad_models.sh /path/to/lloyd
#
# The models are tests/data/bad/model_*.h5 (scripts/fixtures/make_model_fixtures.py), for the
# data tests/data/bad/good.h5 (50 x 3).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

GOOD=$BAD/good.h5

# ---- models as a user's h5py script writes them are accepted
for np in 1 3; do
  mkdir -p "$TMP/np$np"
  mpi "np$np.predict_vlen" "$np" 60 predict --model "$BAD/model_lloyd_vlen.h5" --input "$GOOD:/X" \
    --output "$TMP/np$np/vlen.h5"
  check_ran_ok "np$np.predict_vlen"
  mpi "np$np.predict_bisecting" "$np" 60 predict --model "$BAD/model_bisecting_good.h5" --input "$GOOD:/X" \
    --output "$TMP/np$np/bisecting.h5"
  check_ran_ok "np$np.predict_bisecting"
  mpi "np$np.top_terms_vlen" "$np" 60 top-terms --model "$BAD/model_lloyd_vlen.h5" \
    --vocabulary "$BAD/model_lloyd_vlen.h5:/vocabulary" --n 2
  check_ran_ok "np$np.top_terms_vlen"
done
check_h5_identical predict_vlen.rank_invariant "$TMP/np1/vlen.h5" "$TMP/np3/vlen.h5" /labels /labels
check_h5_identical predict_bisecting.rank_invariant "$TMP/np1/bisecting.h5" "$TMP/np3/bisecting.h5" /labels /labels

# ---- refused models: predict_error NAME NP MODEL PATTERN...
predict_error() {
  local name=$1 np=$2 model=$3
  shift 3
  expect_error "predict.$name.np$np" "$np" "$TMP/$name/labels.h5" "$@" -- \
    predict --model "$BAD/$model" --input "$GOOD:/X" --output "$TMP/$name/labels.h5"
}
for np in 1 3; do
  predict_error metric_hamming "$np" model_metric_hamming.h5 "attribute metric is 'hamming'" "euclidean, cosine"
  predict_error mode_weird "$np" model_mode_weird.h5 "attribute mode is 'weird'"
  predict_error nan_centroid "$np" model_nan_centroid.h5 "/centroids: row 1 contains NaN \(column 2\)"
  predict_error k_mismatch "$np" model_k_mismatch.h5 "attribute k = 4 but /centroids has 3 rows"
  predict_error tree_label_big "$np" model_tree_label_big.h5 "/tree node 4 is a leaf with label 7, outside \[0, k = 3\)"
  predict_error tree_child_range "$np" model_tree_child_range.h5 "/tree node 2 has children 3 and 9"
  predict_error tree_parent "$np" model_tree_parent.h5 "/tree node 3 has parent 1, which does not name it"
  predict_error tree_on_lloyd "$np" model_tree_on_lloyd.h5 "only a bisecting model has one"
done
expect_error predict.features.np3 3 "$TMP/features/labels.h5" "has 3 features \(columns\) but the data have 5" -- \
  predict --model "$BAD/model_lloyd_vlen.h5" --input "$DATA/lloyd_blobs_f64.h5:/X" --output "$TMP/features/labels.h5"

# ---- top-terms reads models with the same validation
expect_error top_terms.metric_hamming 3 "" "attribute metric is 'hamming'" -- \
  top-terms --model "$BAD/model_metric_hamming.h5" --vocabulary "$BAD/model_lloyd_vlen.h5:/vocabulary"
expect_error top_terms.tree_label_big 3 "" "leaf with label 7" -- \
  top-terms --model "$BAD/model_tree_label_big.h5" --vocabulary "$BAD/model_lloyd_vlen.h5:/vocabulary"
expect_error top_terms.labels_range 3 "" "/labels holds label 5, outside \[0, k = 3\)" -- \
  top-terms --model "$BAD/model_labels_range.h5" --vocabulary "$BAD/model_lloyd_vlen.h5:/vocabulary"

finish
