#!/usr/bin/env bash
# End-to-end test: lloyd says what it ignores and what looks wrong (issue 17 item 7): options
# that do not apply to what runs are refused by name; a transposed-looking data set, fewer
# distinct rows than k and a recommended K at the end of the choose-k range each get one line;
# the scikit-learn spellings --n-init auto, --algorithm elkan and --init MODEL.h5 work.
#
#     bash tests/cli/options.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
BLOBS=$DATA/lloyd_blobs_f64.h5
METRICS=$DATA/metrics_blobs_f64.h5

# ---------------------------------------------------------------- options that do not apply

# refused NAME PATTERN LLOYD-ARGS...: exits non-zero at 2 ranks with one line naming the option.
refused() {
  local name=$1 pattern=$2
  shift 2
  expect_error "refused.$name" 2 "" "$pattern" "applies only" -- "$@"
}
refused stream_kmedians "--stream" fit --input "$BLOBS:/X" --k 3 --mode kmedians --stream
refused batch_size_lloyd "--batch-size" fit --input "$BLOBS:/X" --k 3 --batch-size 100
refused init_size_kmedians "--init-size" fit --input "$BLOBS:/X" --k 3 --mode kmedians --init-size 9
refused medoid_method_minibatch "--medoid-method" fit --input "$BLOBS:/X" --k 3 --mode minibatch --medoid-method pam
refused sample_lloyd "--sample" fit --input "$BLOBS:/X" --k 3 --sample 100
refused distance_kmedians "--distance" fit --input "$BLOBS:/X" --k 3 --mode kmedians --distance manhattan
refused strategy_lloyd "--bisecting-strategy" fit --input "$BLOBS:/X" --k 3 --bisecting-strategy largest-cluster
refused oversampling_kmeanspp "--oversampling" fit --input "$BLOBS:/X" --k 3 --oversampling 4
refused init_rounds_forgy "--init-rounds" fit --input "$BLOBS:/X" --k 3 --init forgy --init-rounds 2
refused algorithm_minibatch "--algorithm" fit --input "$BLOBS:/X" --k 3 --mode minibatch --algorithm hamerly
refused algorithm_cosine "--algorithm" fit --input "$BLOBS:/X" --k 3 --metric cosine --algorithm yinyang
refused algorithm_choose_k_cosine "--algorithm" choose-k --metric cosine --input "$BLOBS:/X" --k-max 3 \
  --algorithm hamerly --output "$TMP/sweep_refused3.h5"
refused force_without_output "--force" fit --input "$BLOBS:/X" --k 3 --force
refused gap_refs_without_gap "--gap-refs" choose-k --input "$BLOBS:/X" --k-max 3 --criteria elbow,silhouette \
  --gap-refs 3 --output "$TMP/sweep_refused.h5"
refused silhouette_size_without_silhouette "--silhouette-sample-size" choose-k --input "$BLOBS:/X" --k-max 3 \
  --criteria elbow --silhouette-sample-size 50 --output "$TMP/sweep_refused2.h5"
refused sample_size_without_silhouette "--sample-size" evaluate --input "$METRICS:/X" \
  --labels "$METRICS:/labels" --metrics ch --sample-size 100
refused force_without_output_evaluate "--force" evaluate --input "$METRICS:/X" --labels "$METRICS:/labels" --force
expect_error n_init_zero 2 "" "--n-init" "auto" -- fit --input "$BLOBS:/X" --k 3 --n-init 0
expect_error n_init_word 2 "" "--n-init" "auto" -- fit --input "$BLOBS:/X" --k 3 --n-init many

# Options that do apply (and defaults) still run.
mpi applies 2 "$LIMIT" fit --input "$BLOBS:/X" --k 3 --mode minibatch --batch-size 100 --stream --seed 1
check_ran_ok applies.minibatch_options

# ---------------------------------------------------------------- scikit-learn spellings

# --n-init auto: scikit-learn 1.4's rule, 10 restarts with a random init and 1 with k-means++.
mpi n_init_auto_forgy 2 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --init forgy --n-init auto --json
check_ran_ok n_init_auto.forgy.exit0
check_eq n_init_auto.forgy_runs_10 "$(json_get "$(cat "$OUT_FILE")" n_init)" 10
mpi n_init_auto_kpp 2 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --n-init auto --json
check_eq n_init_auto.kmeanspp_runs_1 "$(json_get "$(cat "$OUT_FILE")" n_init)" 1

# --algorithm elkan: the pruned exact algorithm, the same model as Lloyd's.
mpi elkan 3 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --init "$BLOBS:/init" --algorithm elkan \
  --output "$TMP/elkan.h5" --json
check_ran_ok elkan.exit0
check_eq elkan.runs_hamerly "$(json_get "$(cat "$OUT_FILE")" algorithm)" hamerly
mpi lloyd_plain 2 "$LIMIT" fit --input "$BLOBS:/X" --k 6 --init "$BLOBS:/init" --algorithm lloyd \
  --output "$TMP/lloyd.h5"
check_h5_identical elkan.labels_equal_lloyd "$TMP/elkan.h5" "$TMP/lloyd.h5" /labels /labels
check_h5_identical elkan.centroids_equal_lloyd "$TMP/elkan.h5" "$TMP/lloyd.h5" /centroids /centroids

# --init MODEL.h5 starts from the model's /centroids: the same fit as naming the dataset.
mpi init_model 2 "$LIMIT" fit --input "$BLOBS:/X" --init "$TMP/elkan.h5" --output "$TMP/from_model.h5"
check_ran_ok init_model.exit0
mpi init_dataset 3 "$LIMIT" fit --input "$BLOBS:/X" --init "$TMP/elkan.h5:/centroids" --output "$TMP/from_dataset.h5"
check_h5_identical init_model.same_as_dataset "$TMP/from_model.h5" "$TMP/from_dataset.h5" /centroids /centroids
check_h5_identical init_model.labels_kept "$TMP/from_model.h5" "$TMP/elkan.h5" /labels /labels
expect_error init_missing_model 2 "" "--init" "MODEL.h5" -- fit --input "$BLOBS:/X" --init "$TMP/absent.h5"

# ---------------------------------------------------------------- warnings (the fit still runs)

mpi wide_data 1 "$LIMIT" generate --output "$TMP/wide.h5" --samples 3 --features 100 --centers 2
mpi wide 2 "$LIMIT" fit --input "$TMP/wide.h5:/X" --k 2
check_ran_ok wide.exit0
check_eq wide.one_warning "$(grep -c 'warning: more features than rows' "$ERR_FILE")" 1

mpi dup_data 1 "$LIMIT" generate --output "$TMP/dup.h5" --samples 60 --features 2 --centers 3 --cluster-std 0
for np in 1 3; do
  mpi "dup$np" "$np" "$LIMIT" fit --input "$TMP/dup.h5:/X" --k 5
  check_ran_ok "duplicates.np$np.exit0"
  check_eq "duplicates.np$np.one_warning" "$(grep -c 'only 3 distinct clusters found for k = 5' "$ERR_FILE")" 1
done
mpi no_dup 2 "$LIMIT" fit --input "$BLOBS:/X" --k 6
check_eq no_warning_on_good_data "$(grep -c 'warning' "$ERR_FILE")" 0

# A K at the end of the range: the blobs have 6 clusters, the range stops at 3.
mpi edge 2 "$LIMIT" choose-k --input "$BLOBS:/X" --k-min 2 --k-max 3 --criteria elbow,silhouette,ch \
  --output "$TMP/edge.h5" --quiet
check_ran_ok edge.exit0
check edge.note_names_k_max "no note on the largest K tried" grep -q 'the largest K tried' "$ERR_FILE"
mpi inside 2 "$LIMIT" choose-k --input "$BLOBS:/X" --k-min 2 --k-max 9 --criteria ch \
  --output "$TMP/inside.h5" --quiet --json
check_ran_ok inside.exit0
check_eq inside.recommends_6 "$(json_get "$(cat "$OUT_FILE")" recommended_k_calinski_harabasz)" 6
check_eq inside.no_edge_note "$(grep -c 'note: calinski' "$ERR_FILE")" 0

finish
