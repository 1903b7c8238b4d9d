#!/usr/bin/env bash
# End-to-end test of `lloyd evaluate` and `lloyd choose-k`: scores equal scikit-learn's
# (fixture attributes), the same at 1 and 4 ranks; per-sample output; choose-k recommends 5
# on five separated blobs at 1 and 4 ranks with identical sweep files; --metric cosine on
# dense and CSR input equals scikit-learn's silhouette_score(metric="cosine") at 1-4 ranks,
# choose-k --metric cosine finds four topics; bad input fails well.
#
#     bash tests/cli/evaluate.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
FIX=$DATA/metrics_blobs_f64.h5

# close NAME ACTUAL EXPECTED [TOLERANCE]: |a - e| <= TOLERANCE |e| (default 1e-9)
close() {
  if awk -v a="$2" -v e="$3" -v t="${4:-1e-9}" 'BEGIN { d = a - e; if (d < 0) d = -d; m = e < 0 ? -e : e; exit !(a != "" && d <= t * m) }'; then
    pass "$1 ($2)"
  else
    fail "$1" "got '$2', scikit-learn '$3'"
  fi
}

# ---------------------------------------------------------------- evaluate
for np in 1 4; do
  mpi "eval_np$np" "$np" "$LIMIT" evaluate --input "$FIX:/X" --labels "$FIX:/labels" \
    --truth "$FIX:/truth" --metrics silhouette,ch,db --json
  check_ran_ok "eval_np$np.exit0"
  cp "$OUT_FILE" "$TMP/eval_np$np.json"
done
JSON1=$(cat "$TMP/eval_np1.json")
JSON4=$(cat "$TMP/eval_np4.json")
for key in silhouette calinski_harabasz davies_bouldin adjusted_rand normalized_mutual_info \
           homogeneity completeness v_measure; do
  close "eval.$key" "$(json_get "$JSON4" "$key")" "$(h5dump -m %.17g -a "/expected/$key" "$FIX" | sed -n 's/^ *(0): *//p')"
  check_eq "eval.$key.same_at_1_and_4" "$(json_get "$JSON1" "$key")" "$(json_get "$JSON4" "$key")"
done

# Labels are categories whatever their values: -5, 0, 10^6, 2^40 (and classes up to 2^62)
# give the scores of the compact labels they stand for, fast, at any rank count (before:
# 2^40 read as 2147483647, and memory and time followed the largest label).
SPARSE=$DATA/metrics_sparse_labels.h5
for np in 1 2 3 4; do
  for labels in labels labels_uint64; do
    mpi "eval_sparse_${labels}_np$np" "$np" 30 evaluate --input "$SPARSE:/X" --labels "$SPARSE:/$labels" \
      --truth "$SPARSE:/truth" --metrics silhouette,ch,db --json
    check_ran_ok "eval_sparse_${labels}_np$np.exit0"
    json=$(cat "$OUT_FILE")
    for key in silhouette calinski_harabasz davies_bouldin adjusted_rand normalized_mutual_info v_measure; do
      check_eq "eval_sparse_${labels}_np$np.$key.same_as_compact" "$(json_get "$json" "$key")" "$(json_get "$JSON1" "$key")"
    done
  done
done
for key in silhouette calinski_harabasz davies_bouldin adjusted_rand normalized_mutual_info v_measure; do
  close "eval_sparse.$key.scikit_learn" "$(json_get "$json" "$key")" \
    "$(h5dump -m %.17g -a "/expected/$key" "$SPARSE" | sed -n 's/^ *(0): *//p')"
done
expect_error eval_label_above_int64 2 "" "row 500 holds 9223372036854775808" -- \
  evaluate --input "$SPARSE:/X" --labels "$SPARSE:/labels_too_large"

mpi eval_output 3 "$LIMIT" evaluate --input "$FIX:/X" --labels "$FIX:/labels" --output "$TMP/samples.h5"
check_ran_ok eval_output.exit0
check_eq eval_output.dims "$(h5_dims "$TMP/samples.h5" /silhouette)" "777"

mpi eval_sampled 2 "$LIMIT" evaluate --input "$FIX:/X" --labels "$FIX:/labels" --sample-size 300 --seed 4 --json
check_ran_ok eval_sampled.exit0
check eval_sampled.stderr "no silhouette_stderr in $(cat "$OUT_FILE")" grep -q silhouette_stderr "$OUT_FILE"

# ---------------------------------------------------------------- choose-k
BLOBS=$TMP/blobs5.h5
mpi generate 2 "$LIMIT" generate --output "$BLOBS" --samples 1500 --features 8 --centers 5 --seed 2
check_ran_ok generate.exit0
for np in 1 4; do
  # Three restarts per fit: one k-means++ draw in ~30 leaves two of these blobs to one centre
  # (scikit-learn's kmeans_plusplus too, 9 of 300 seeds), which no criterion should be judged by.
  mpi "choose_np$np" "$np" 300 choose-k --input "$BLOBS:/X" --k-min 2 --k-max 10 --gap-refs 4 \
    --seed 2 --n-init 3 --output "$TMP/sweep$np.h5" --json
  check_ran_ok "choose_np$np.exit0"
  for criterion in silhouette calinski_harabasz gap; do
    check_eq "choose_np$np.$criterion" "$(json_get "$(cat "$OUT_FILE")" "recommended_k_$criterion")" 5
  done
  check "choose_np$np.progress" "no progress lines on stderr" grep -q '^lloyd choose-k: \[' "$ERR_FILE"
done
mpi choose_sampled 2 "$LIMIT" choose-k --input "$BLOBS:/X" --k-min 4 --k-max 6 --criteria silhouette \
  --silhouette-max-exact 1000 --silhouette-sample-size 600 --output "$TMP/sweep_sampled.h5" --json
check_ran_ok choose_sampled.exit0
check_eq choose_sampled.flag "$(json_get "$(cat "$OUT_FILE")" silhouette_sampled)" true
check_eq choose_sampled.k "$(json_get "$(cat "$OUT_FILE")" recommended_k_silhouette)" 5
check_eq choose_sampled.no_gap "$(json_get "$(cat "$OUT_FILE")" recommended_k_gap)" ""
check_h5_identical choose.same_sweep_at_1_and_4 "$TMP/sweep1.h5" "$TMP/sweep4.h5"
check_eq choose.sweep_layout "$(h5_dims "$TMP/sweep4.h5" /gap_s)" "9"
check_eq choose.sweep_attribute "$(h5_attr "$TMP/sweep4.h5" /recommended_k_gap)" "5"
# k-means|| seeding in every fit: the same sweep at 1 and 3 ranks, and it still finds 5.
for np in 1 3; do
  mpi "choose_parallel_np$np" "$np" "$LIMIT" choose-k --input "$BLOBS:/X" --k-min 3 --k-max 7 \
    --criteria silhouette --init 'k-means||' --seed 2 --output "$TMP/sweep_parallel$np.h5" --json --quiet
  check_ran_ok "choose_parallel_np$np.exit0"
done
check_eq choose_parallel.k "$(json_get "$(cat "$OUT_FILE")" recommended_k_silhouette)" 5
check_h5_identical choose_parallel.same_sweep_at_1_and_3 "$TMP/sweep_parallel1.h5" "$TMP/sweep_parallel3.h5"

# ---------------------------------------------------------------- cosine
# evaluate --metric cosine on dense rows (a zero row among them) and on a TF-IDF CSR group
# (an empty document among them, kept sparse): scikit-learn's silhouette_score(metric="cosine")
# to 1e-12, the same bits at 1-4 ranks; by default the silhouette alone.
for case in dense sparse; do
  COS=$DATA/cosine_$case.h5
  for np in 1 2 3 4; do
    mpi "cos_eval_${case}_np$np" "$np" 30 evaluate --metric cosine --input "$COS:/X" --labels "$COS:/labels" --json
    check_ran_ok "cos_eval_${case}_np$np.exit0"
    json=$(cat "$OUT_FILE")
    [ "$np" -eq 1 ] && first=$(json_get "$json" silhouette)
    check_eq "cos_eval_${case}_np$np.same_as_np1" "$(json_get "$json" silhouette)" "$first"
  done
  close "cos_eval_$case.scikit_learn" "$first" \
    "$(h5dump -m %.17g -a /expected/silhouette "$COS" | sed -n 's/^ *(0): *//p')" 1e-12
  check_eq "cos_eval_$case.metric" "$(json_get "$json" metric)" cosine
  check_eq "cos_eval_$case.silhouette_only" "$(json_get "$json" calinski_harabasz)$(json_get "$json" davies_bouldin)" ""
done
COS=$DATA/cosine_sparse.h5
mpi cos_eval_output 3 30 evaluate --metric cosine --input "$COS:/X" --labels "$COS:/labels" --output "$TMP/cos_samples.h5"
check_ran_ok cos_eval_output.exit0
check_eq cos_eval_output.dims "$(h5_dims "$TMP/cos_samples.h5" /silhouette)" "523"
check_eq cos_eval_output.metric "$(h5_attr "$TMP/cos_samples.h5" /metric)" cosine
for np in 2 3; do
  mpi "cos_eval_sampled_np$np" "$np" 30 evaluate --metric cosine --input "$COS:/X" --labels "$COS:/labels" \
    --sample-size 200 --seed 4 --json
  check_ran_ok "cos_eval_sampled_np$np.exit0"
  cp "$OUT_FILE" "$TMP/cos_sampled_np$np.json"
done
for key in silhouette silhouette_stderr silhouette_rows; do
  check_eq "cos_eval_sampled.$key.same_at_2_and_3" "$(json_get "$(cat "$TMP/cos_sampled_np2.json")" $key)" \
    "$(json_get "$(cat "$TMP/cos_sampled_np3.json")" $key)"
done

# choose-k --metric cosine: spherical fits; on four separated topics the elbow and the
# silhouette recommend 4, and K = 4's inertia and silhouette are the fixture's; the sweep is
# the same at 1 and 3 ranks and with 2 threads; each K's silhouette is evaluate's on the model
# fit --metric cosine writes with the same settings.
TOPICS=$DATA/cosine_topics.h5
for run in "1 1" "3 1" "2 2"; do
  set -- $run
  mpi "cos_choose_np$1_t$2" "$1" 60 choose-k --metric cosine --input "$TOPICS:/X" --k-min 2 --k-max 7 \
    --n-init 4 --threads "$2" --output "$TMP/cos_sweep_$1_$2.h5" --json --quiet
  check_ran_ok "cos_choose_np$1_t$2.exit0"
done
set --
json=$(cat "$OUT_FILE")
check_eq cos_choose.k_silhouette "$(json_get "$json" recommended_k_silhouette)" 4
check_eq cos_choose.k_elbow "$(json_get "$json" recommended_k_elbow)" 4
check_eq cos_choose.no_gap "$(json_get "$json" recommended_k_gap)" ""
check_h5_identical cos_choose.same_sweep_at_1_and_3 "$TMP/cos_sweep_1_1.h5" "$TMP/cos_sweep_3_1.h5"
check_h5_identical cos_choose.same_sweep_with_2_threads "$TMP/cos_sweep_1_1.h5" "$TMP/cos_sweep_2_2.h5"
check_eq cos_choose.metric "$(h5_attr "$TMP/cos_sweep_1_1.h5" /metric)" cosine
# sweep_value FILE DATASET I: element I (from 0) with 17 digits
sweep_value() { h5dump -m %.17g -d "$2" "$1" | sed -n "s/^ *($3): *\([^,]*\).*/\1/p"; }
close cos_choose.inertia_k4 "$(sweep_value "$TMP/cos_sweep_1_1.h5" /inertia 2)" \
  "$(h5dump -m %.17g -a /expected/spherical_inertia "$TOPICS" | sed -n 's/^ *(0): *//p')" 1e-12
close cos_choose.silhouette_k4 "$(sweep_value "$TMP/cos_sweep_1_1.h5" /silhouette 2)" \
  "$(h5dump -m %.17g -a /expected/silhouette "$TOPICS" | sed -n 's/^ *(0): *//p')" 1e-12
mpi cos_fit_k5 2 30 fit --metric cosine --input "$TOPICS:/X" --k 5 --n-init 4 --output "$TMP/cos_k5.h5"
check_ran_ok cos_fit_k5.exit0
mpi cos_eval_k5 3 30 evaluate --metric cosine --input "$TOPICS:/X" --labels "$TMP/cos_k5.h5" --json
check_ran_ok cos_eval_k5.exit0
check_eq cos_choose.silhouette_k5_is_evaluate "$(sweep_value "$TMP/cos_sweep_1_1.h5" /silhouette 3)" \
  "$(json_get "$(cat "$OUT_FILE")" silhouette)"

# Refused with one line: Euclidean-only scores and criteria, a seeding the cosine fit lacks.
expect_error cos_eval_ch 2 "" "ch and db are Euclidean" -- \
  evaluate --metric cosine --input "$COS:/X" --labels "$COS:/labels" --metrics silhouette,ch
expect_error cos_eval_unknown_metric 2 "" "unknown --metric 'manhattan'" -- \
  evaluate --metric manhattan --input "$COS:/X" --labels "$COS:/labels"
expect_error cos_choose_gap 2 "$TMP/err/cos_sweep.h5" "criteria are elbow and silhouette" -- \
  choose-k --metric cosine --input "$TOPICS:/X" --criteria elbow,gap --output "$TMP/err/cos_sweep.h5"
expect_error cos_choose_kmeans_parallel 2 "$TMP/err/cos_sweep.h5" "supports --init k-means\+\+ or forgy" -- \
  choose-k --metric cosine --input "$TOPICS:/X" --init 'k-means||' --output "$TMP/err/cos_sweep.h5"

# ---------------------------------------------------------------- bad input
mkdir -p "$TMP/err"
expect_error eval_wrong_length 4 "" "777" "rows" -- \
  evaluate --input "$FIX:/X" --labels "$DATA/metrics_gaps_f64.h5:/labels"
expect_error eval_not_integers 4 "" "integers" -- evaluate --input "$FIX:/X" --labels "$FIX:/expected/silhouette_samples"
mpi fit_k1 2 "$LIMIT" fit --input "$FIX:/X" --k 1 --output "$TMP/k1.h5"
check_ran_ok fit_k1.exit0
expect_error eval_one_cluster 4 "$TMP/err/none.h5" "2 to n-1 clusters" -- \
  evaluate --input "$FIX:/X" --labels "$TMP/k1.h5" --output "$TMP/err/none.h5"
expect_error eval_unknown_metric 2 "" "unknown metric" -- evaluate --input "$FIX:/X" --labels "$FIX:/labels" --metrics rand
expect_error eval_missing_labels 2 "" "no dataset" -- evaluate --input "$FIX:/X" --labels "$FIX:/nope"
expect_error choose_bad_range 2 "$TMP/err/sweep.h5" "k-min" -- \
  choose-k --input "$FIX:/X" --k-min 5 --k-max 3 --output "$TMP/err/sweep.h5"
expect_error choose_k_exceeds_n 2 "$TMP/err/sweep.h5" "exceeds" -- \
  choose-k --input "$DATA/bad/good.h5:/X" --k-min 2 --k-max 60 --output "$TMP/err/sweep.h5"
expect_error choose_bad_reference 2 "$TMP/err/sweep.h5" "gap reference" -- \
  choose-k --input "$FIX:/X" --gap-reference gaussian --output "$TMP/err/sweep.h5"
expect_error choose_nan 4 "$TMP/err/sweep.h5" "NaN" -- \
  choose-k --input "$DATA/bad/nan.h5:/X" --output "$TMP/err/sweep.h5"

finish
