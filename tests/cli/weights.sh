#!/usr/bin/env bash
# End-to-end test of sample weights (fit/predict --sample-weight, scikit-learn's sample_weight):
#
#     bash tests/cli/weights.sh /path/to/lloyd
#
#   - integer weights give the model of repeated rows (centroids, inertia, n_iter; every mode
#     that supports weights, from explicit centres);
#   - weights all 1 give the unweighted model bit for bit;
#   - weighted fits are identical at 1-4 ranks and with --threads 2 (every init), also with a
#     rank that holds no rows;
#   - the model records the weights (attribute sample_weight); predict --sample-weight gives
#     scikit-learn's weighted inertia (-score);
#   - K-medoids with weights (alternate, pam, --sample): identical at 1 and 3 ranks, integer
#     weights give the repeated rows' medoids; predict gives its weighted inertia and labels;
#   - bad weight files and unsupported commands: one line, every rank exits non-zero.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
INT=$DATA/weights_int.h5
REAL=$DATA/weights_real.h5
BADW=$DATA/weights_bad.h5

# fit_ok NAME NP ARGS...: fit with --json --output $TMP/NAME.h5, which must succeed.
fit_ok() {
  local name=$1 np=$2
  shift 2
  mpi "$name" "$np" "$LIMIT" fit --json --output "$TMP/$name.h5" "$@"
  check_ran_ok "$name.exit0"
}
json_of() { grep -a '^{' "$TMP/$1.out"; }
same_objects() {  # same_objects NAME A B OBJECT...: h5diff of the given objects only
  local name=$1 a=$2 b=$3 object ok=1
  shift 3
  for object in "$@"; do h5diff -c "$a" "$b" "$object" >/dev/null 2>&1 || ok=0; done
  if [ $ok = 1 ]; then pass "$name"; else fail "$name" "objects $* differ"; fi
}

# ---------------------------------------------------------------- integer weights = repeated rows
for algorithm in lloyd hamerly yinyang; do
  fit_ok "int.$algorithm" 2 --input "$INT:/X" --sample-weight "$INT:/w" --init "$INT:/init" --tol 0 \
    --algorithm "$algorithm"
  fit_ok "rep.$algorithm" 3 --input "$INT:/X_repeated" --init "$INT:/init" --tol 0 --algorithm "$algorithm"
  same_objects "repeated_rows.$algorithm.centroids" "$TMP/int.$algorithm.h5" "$TMP/rep.$algorithm.h5" /centroids
  for key in inertia n_iter; do
    check_eq "repeated_rows.$algorithm.$key" "$(json_get "$(json_of "int.$algorithm")" "$key")" \
      "$(json_get "$(json_of "rep.$algorithm")" "$key")"
  done
done

# ---------------------------------------------------------------- unit weights = no weights
fit_ok ones 2 --input "$INT:/X" --sample-weight "$INT:/w_ones" --k 5 --seed 4
fit_ok plain 2 --input "$INT:/X" --k 5 --seed 4
same_objects unit_weights.same_model "$TMP/ones.h5" "$TMP/plain.h5" /centroids /labels /history/inertia
check_eq unit_weights.inertia "$(json_get "$(json_of ones)" inertia)" "$(json_get "$(json_of plain)" inertia)"
check unit_weights.recorded "the model names its weights" h5_has_attr "$TMP/ones.h5" /sample_weight
check plain.no_attribute "an unweighted model has no sample_weight" bash -c "! h5dump -a /sample_weight '$TMP/plain.h5' >/dev/null 2>&1"

# ---------------------------------------------------------------- ranks and threads
for init in k-means++ forgy random-partition 'k-means||'; do
  fit_ok "ranks.$init.p1" 1 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 6 --init "$init" --n-init 2 --seed 7 \
    --algorithm hamerly
  ranks="3"
  [ "$init" = k-means++ ] && ranks="2 3 4"
  for np in $ranks; do
    fit_ok "ranks.$init.p$np" "$np" --input "$REAL:/X" --sample-weight "$REAL:/w" --k 6 --init "$init" --n-init 2 \
      --seed 7 --algorithm hamerly
    check_h5_identical "ranks.$init.p1_vs_p$np" "$TMP/ranks.$init.p1.h5" "$TMP/ranks.$init.p$np.h5"
  done
  fit_ok "threads.$init" 2 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 6 --init "$init" --n-init 2 --seed 7 \
    --threads 2 --algorithm hamerly
  check_h5_identical "threads.$init.identical" "$TMP/ranks.$init.p1.h5" "$TMP/threads.$init.h5"
  for algorithm in lloyd yinyang; do
    fit_ok "algorithm.$init.$algorithm" 3 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 6 --init "$init" \
      --n-init 2 --seed 7 --algorithm "$algorithm" --threads 2
    same_objects "algorithm.$init.$algorithm.same_model" "$TMP/ranks.$init.p1.h5" "$TMP/algorithm.$init.$algorithm.h5" \
      /centroids /labels
  done
done
# mini-batch (in memory and streamed: the same model)
fit_ok minibatch.p1 1 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 5 --mode minibatch --batch-size 64 --seed 2
fit_ok minibatch.p3 3 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 5 --mode minibatch --batch-size 64 --seed 2 \
  --threads 2
check_h5_identical minibatch.p1_vs_p3 "$TMP/minibatch.p1.h5" "$TMP/minibatch.p3.h5"
fit_ok minibatch.stream 2 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 5 --mode minibatch --batch-size 64 --seed 2 \
  --stream
check_h5_identical minibatch.stream_identical "$TMP/minibatch.p1.h5" "$TMP/minibatch.stream.h5"
# K-medians (weighted medians)
fit_ok kmedians.p1 1 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --mode kmedians --n-init 2
fit_ok kmedians.p3 3 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --mode kmedians --n-init 2
check_h5_identical kmedians.p1_vs_p3 "$TMP/kmedians.p1.h5" "$TMP/kmedians.p3.h5"
# cosine (spherical K-Means), dense rows as CSR; predict reports Σ w·(1 − cos)
fit_ok cosine.p1 1 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --metric cosine --n-init 2 --init forgy
fit_ok cosine.p4 4 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --metric cosine --n-init 2 --init forgy \
  --threads 2
check_h5_identical cosine.p1_vs_p4 "$TMP/cosine.p1.h5" "$TMP/cosine.p4.h5"
mpi cosine.predict 2 "$LIMIT" predict --json --model "$TMP/cosine.p1.h5" --input "$REAL:/X" --sample-weight "$REAL:/w" \
  --output "$TMP/cosine.labels.h5"
check_ran_ok cosine.predict
check_eq cosine.predict.inertia "$(json_get "$(grep -a '^{' "$OUT_FILE")" inertia)" "$(json_get "$(json_of cosine.p1)" inertia)"
# bisecting
fit_ok bisecting.p1 1 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --mode bisecting --n-init 2
fit_ok bisecting.p4 4 --input "$REAL:/X" --sample-weight "$REAL:/w" --k 4 --mode bisecting --n-init 2 --threads 2
check_h5_identical bisecting.p1_vs_p4 "$TMP/bisecting.p1.h5" "$TMP/bisecting.p4.h5"
fit_ok tiny.p1 1 --input "$BADW:/X_tiny" --sample-weight "$BADW:/w_tiny" --k 2
fit_ok tiny.p4 4 --input "$BADW:/X_tiny" --sample-weight "$BADW:/w_tiny" --k 2
check_h5_identical tiny.rank_without_rows "$TMP/tiny.p1.h5" "$TMP/tiny.p4.h5"
fit_ok int_weights_file 2 --input "$BADW:/X" --sample-weight "$BADW:/w_int" --k 2
# K-medoids (Σ w·d in BUILD, alternate, PAM; a --sample keeps its rows' weights): the same
# model at 1 and 3 ranks; integer weights choose the repeated rows' medoid rows and inertia;
# predict --sample-weight reports the fit's weighted inertia.
for method in alternate pam; do
  for sample in 0 150; do
    name=kmedoids.$method.s$sample
    fit_ok "$name.p1" 1 --input "$INT:/X" --sample-weight "$INT:/w" --k 5 --mode kmedoids --medoid-method "$method" \
      --sample "$sample" --seed 3
    fit_ok "$name.p3" 3 --input "$INT:/X" --sample-weight "$INT:/w" --k 5 --mode kmedoids --medoid-method "$method" \
      --sample "$sample" --seed 3 --threads 2
    check_h5_identical "$name.p1_vs_p3" "$TMP/$name.p1.h5" "$TMP/$name.p3.h5"
  done
  fit_ok "kmedoids.$method.rep" 2 --input "$INT:/X_repeated" --k 5 --mode kmedoids --medoid-method "$method"
  same_objects "kmedoids.$method.repeated_rows" "$TMP/kmedoids.$method.s0.p1.h5" "$TMP/kmedoids.$method.rep.h5" /centroids
  check_eq "kmedoids.$method.repeated_rows.inertia" "$(json_get "$(json_of "kmedoids.$method.s0.p1")" inertia)" \
    "$(json_get "$(json_of "kmedoids.$method.rep")" inertia)"
done
mpi kmedoids.predict 2 "$LIMIT" predict --json --model "$TMP/kmedoids.pam.s0.p1.h5" --input "$INT:/X" \
  --sample-weight "$INT:/w" --output "$TMP/kmedoids.labels.h5"
check_ran_ok kmedoids.predict
check_eq kmedoids.predict.inertia "$(json_get "$(grep -a '^{' "$OUT_FILE")" inertia)" \
  "$(json_get "$(json_of kmedoids.pam.s0.p1)" inertia)"
same_objects kmedoids.predict.labels "$TMP/kmedoids.pam.s0.p1.h5" "$TMP/kmedoids.labels.h5" /labels

# ---------------------------------------------------------------- predict: scikit-learn's -score
expected=$(h5dump -m '%.17g' -a /expected/score_inertia "$REAL" | grep -o '(0): [0-9][0-9.e+-]*' | sed 's/(0): //')
mpi predict 3 "$LIMIT" predict --json --model "$DATA/weights_real.h5:/expected/centroids" --input "$REAL:/X" \
  --sample-weight "$REAL:/w" --output "$TMP/predicted.h5"
check_ran_ok predict.exit0
got=$(json_get "$(grep -a '^{' "$OUT_FILE")" inertia)
check predict.weighted_inertia "inertia $got, scikit-learn $expected" \
  awk -v a="$got" -v b="$expected" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-9 * b) }'

# ---------------------------------------------------------------- bad weights
for np in 1 3; do
  expect_error "bad.negative.p$np" "$np" "$TMP/bad.h5" 'sample weights' 'row 3 is negative' -- \
    fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_negative" --output "$TMP/bad.h5"
done
expect_error bad.short 3 "$TMP/bad.h5" 'sample weights' 'holds 9 values; expected 10' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_short" --output "$TMP/bad.h5"
expect_error bad.nan 4 "$TMP/bad.h5" 'sample weights' 'row 5 is NaN' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_nan" --output "$TMP/bad.h5"
expect_error bad.inf 2 "$TMP/bad.h5" 'sample weights' 'row 7 is infinite' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_inf" --output "$TMP/bad.h5" --mode minibatch --stream
expect_error bad.zero 3 "$TMP/bad.h5" 'sample weights' 'every weight is 0' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_zero" --output "$TMP/bad.h5" --mode bisecting
# (5e-324: the weighted draws' keys -log(u)/w overflowed, no row was drawn: a segfault)
expect_error bad.subnormal 2 "$TMP/bad.h5" 'sample weights' 'row 0 is 4.94e-324, below 1e-300' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_subnormal" --output "$TMP/bad.h5"
expect_error bad.2d 2 "$TMP/bad.h5" 'sample weights' '2 dimensions; expected 1' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_2d" --output "$TMP/bad.h5"
expect_error bad.text 2 "$TMP/bad.h5" 'sample weights' 'does not hold numbers' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/w_text" --output "$TMP/bad.h5"
expect_error bad.missing_dataset 2 "$TMP/bad.h5" 'sample weights' "no dataset '/nothing'" -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW:/nothing" --output "$TMP/bad.h5"
expect_error bad.no_path 1 "$TMP/bad.h5" 'sample-weight' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$BADW" --output "$TMP/bad.h5"
expect_error bad.k_beyond_weighted_rows 2 "$TMP/bad.h5" 'k = 3 exceeds the 2 rows of positive sample weight' -- \
  fit --input "$BADW:/X_tiny" --k 3 --sample-weight "$BADW:/w_tiny" --output "$TMP/bad.h5"
expect_error bad.predict_short 2 "$TMP/bad.h5" 'sample weights' 'holds 9 values; expected 10' -- \
  predict --model "$TMP/int_weights_file.h5" --input "$BADW:/X" --sample-weight "$BADW:/w_short" --output "$TMP/bad.h5"
# (64 of the 240 rows weigh 0: this sample of 5 holds 3 of positive weight)
expect_error bad.kmedoids_sample_weightless 2 "$TMP/bad.h5" 'k-medoids sample [(]5 rows[)]' \
  'exceeds the 3 rows of positive sample weight' 'larger --sample' -- \
  fit --input "$INT:/X" --k 5 --mode kmedoids --sample 5 --seed 1 --sample-weight "$INT:/w" --output "$TMP/bad.h5"
expect_error evaluate.refused 2 "" 'evaluate' 'sample-weight' 'no sample weights' -- \
  evaluate --input "$INT:/X" --labels "$TMP/int.lloyd.h5" --sample-weight "$INT:/w"
# The weights file is an input: never an output.
expect_error bad.output_is_weights 1 "" 'sample|input' -- \
  fit --input "$BADW:/X" --k 2 --sample-weight "$TMP/w_copy.h5:/w" --output "$TMP/w_copy.h5" --force

finish
