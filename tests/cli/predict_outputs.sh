#!/usr/bin/env bash
# End-to-end test of issue 17, items 2 and 3: per-row distances, transform, top outliers and
# standardisation, against scikit-learn (tests/data/predict_outputs.h5, made by
# scripts/fixtures/make_predict_fixtures.py).
#
#     bash tests/cli/predict_outputs.sh /path/to/lloyd
#
#   - predict --distances/--transform/--top-outliers: /distance, /transform (KMeans.transform),
#     /outliers (numpy's argsort, ties to the lower row) and /counts equal scikit-learn's for a
#     Euclidean, a cosine and a K-medians model, bit-identical at 1-4 ranks; a rank without
#     rows; N = 0 and N > n; without --output predict only reports (JSON, plain text);
#   - fit --standardize: /scaling/mean and /scaling/scale equal StandardScaler's (1e-15),
#     labels and centroids Pipeline(StandardScaler(), KMeans)'s, bit-identical at 1-4 ranks
#     (and mini-batch --stream scales like the in-memory fit); predict applies the scaling;
#   - fit --distances stores /distance for every mode, equal to predict --distances on the
#     model (the same bits);
#   - bad options fail with one line, every rank non-zero, no output.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=60
FIX=$DATA/predict_outputs.h5
X="$FIX:/X"

# close NAME TOLERANCE-FLAG FILE OBJ EXPECTED-OBJ: h5diff finds no difference beyond the
# tolerance (-p relative, -d absolute) between a dataset and the fixture's.
close() {
  local name=$1 tol=$2 file=$3 obj=$4 expected=$5
  run "h5diff.$name" 60 h5diff $tol "$file" "$FIX" "$obj" "$expected"
  if [ "$RC" -eq 0 ] && ! grep -qi 'not comparable' "$OUT_FILE" "$ERR_FILE"; then pass "$name"
  else fail "$name" "h5diff $tol $obj vs $expected: status $RC" "$OUT_FILE" "$ERR_FILE"; fi
}

# ---------------------------------------------------------------- predict: Euclidean, cosine, K-medians
# MODEL tag: a bare dataset of scikit-learn's fitted centres, and two hand-written models.
declare -A MODEL=([euclidean]="$FIX:/expected/centroids" [cosine]="$DATA/predict_model_cosine.h5"
                  [kmedians]="$DATA/predict_model_kmedians.h5")
declare -A GROUP=([euclidean]=/expected [cosine]=/expected_cosine [kmedians]=/expected_kmedians)
# Tolerances: scikit-learn's euclidean_distances expands the norms (relative error ~1e-10 on
# the nearest centres here); lloyd sums (x - c)^2 directly.
declare -A TOL=([euclidean]="-p 1e-9" [cosine]="-d 1e-14" [kmedians]="-p 1e-14")
for model in euclidean cosine kmedians; do
  for np in 1 2 3 4; do
    out=$TMP/$model.np$np.h5
    mpi "$model.np$np" "$np" "$LIMIT" predict --model "${MODEL[$model]}" --input "$X" --output "$out" \
      --distances --transform --top-outliers 10
    check_ran_ok "predict.$model.np$np.exit0"
  done
  out=$TMP/$model.np1.h5
  g=${GROUP[$model]}
  check_h5_identical "predict.$model.labels" "$out" "$FIX" /labels "$g/labels"
  close "predict.$model.transform" "${TOL[$model]}" "$out" /transform "$g/transform"
  close "predict.$model.distance" "${TOL[$model]}" "$out" /distance "$g/distance"
  check_h5_identical "predict.$model.outlier_rows" "$out" "$FIX" /outliers/row "$g/outlier_rows"
  close "predict.$model.outlier_distance" "${TOL[$model]}" "$out" /outliers/distance "$g/outlier_distance"
  for np in 2 3 4; do
    check_h5_identical "predict.$model.np$np.same_as_np1" "$TMP/$model.np1.h5" "$TMP/$model.np$np.h5"
  done
done
check_eq predict.transform.shape "$(h5_dims "$TMP/euclidean.np1.h5" /transform)" "306 x 4"
check_eq predict.distance.type "$(h5_type "$TMP/euclidean.np1.h5" /distance)" H5T_IEEE_F64LE
check_eq predict.distance_attribute "$(h5_attr "$TMP/kmedians.np1.h5" /distance)" manhattan
# Rows 77 and 222 are the same row: equally far, the lower row first.
check_eq predict.outliers.tie_lower_row_first \
  "$(h5dump -d /outliers/row -y -w 0 "$TMP/euclidean.np3.h5" | sed -n '/DATA {/,/}/p' | tr -d ' \n' | cut -c1-14)" "DATA{77,222,15"
# The counts per cluster add up to n and equal the labels' counts (np.bincount).
counts=$(h5dump -d /counts -y -w 0 "$TMP/euclidean.np2.h5" | sed -n '/DATA {/,/}/p' | tr -dc '0-9,\n' | tr ',' ' ' | xargs)
expected=$(h5dump -d /expected/labels -y -w 0 "$FIX" | sed -n '/DATA {/,/}/p' | tr -dc '0-9,' | tr ',' '\n' |
  sort -n | uniq -c | awk '{print $1}' | xargs)
check_eq predict.counts "$counts" "$expected"

# ---------------------------------------------------------------- only a report, no file
touch "$TMP/before_reports"
mpi report_json 3 "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$X" --top-outliers 3 --json
check_ran_ok report_json.exit0
json=$(cat "$OUT_FILE")
check_eq report_json.counts "$(printf '%s' "$json" | grep -o '"counts":\[[0-9,]*\]' | tr -dc '0-9,' | tr ',' ' ')" "$counts"
check_eq report_json.outlier_rows "$(printf '%s' "$json" | grep -o '"row":[0-9]*' | cut -d: -f2 | xargs)" "77 222 150"
check_eq report_json.output_empty "$(json_get "$json" output)" ""
mpi report_text 2 "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$X" --top-outliers 2
check_ran_ok report_text.exit0
check_eq report_text.outliers "$(grep -A2 '^top 2 outliers' "$OUT_FILE" | tail -n 2 | cut -d' ' -f1 | xargs)" "77 222"
check report_text.counts "no counts line" grep -q "^counts: $counts\$" "$OUT_FILE"
check report.nothing_written "predict without --output wrote a file" \
  test -z "$(find "$TMP" -maxdepth 1 -name '*.h5' -newer "$TMP/before_reports" -print)"

# N = 0: no /outliers; N > n: every row, farthest first; a rank without rows (4 ranks, 3 rows).
mpi top0 2 "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$X" --output "$TMP/top0.h5" --top-outliers 0
check_ran_ok top0.exit0
check top0.no_outliers "/outliers written for N = 0" test -z "$(h5_dims "$TMP/top0.h5" /outliers/row)"
mpi top_all 3 "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$X" --output "$TMP/top_all.h5" --top-outliers 1000
check_ran_ok top_all.exit0
check_eq top_all.rows "$(h5_dims "$TMP/top_all.h5" /outliers/row)" 306
for np in 1 4; do
  mpi small.np$np "$np" "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$FIX:/X3" \
    --output "$TMP/small.np$np.h5" --distances --transform --top-outliers 5
  check_ran_ok "small.np$np.exit0"
done
check_eq small.outliers "$(h5_dims "$TMP/small.np4.h5" /outliers/row)" 3
check_h5_identical small.np4.same_as_np1 "$TMP/small.np1.h5" "$TMP/small.np4.h5"
check_eq small.tie_order \
  "$(h5dump -d /outliers/row -y -w 0 "$TMP/small.np4.h5" | sed -n '/DATA {/,/}/p' | tr -dc '0-9,')" "1,2,0"

# ---------------------------------------------------------------- fit --standardize
S=/expected_standardized
for np in 1 2 3 4; do
  mpi std.np$np "$np" "$LIMIT" fit --input "$X" --init "$FIX:/init" --standardize --distances \
    --output "$TMP/std.np$np.h5" --json
  check_ran_ok "std.np$np.exit0"
done
M=$TMP/std.np1.h5
close std.mean "-p 1e-15" "$M" /scaling/mean $S/mean
close std.scale "-p 1e-15" "$M" /scaling/scale $S/scale
check_h5_identical std.labels "$M" "$FIX" /labels $S/labels
close std.scaled_centroids "-p 1e-12" "$M" /scaled_centroids $S/scaled_centroids
close std.centroids_in_data_units "-p 1e-12" "$M" /centroids $S/centroids
close std.distance "-p 1e-12" "$M" /distance $S/distance
check_eq std.format_version "$(h5_attr "$M" /format_version)" 2
for np in 2 3 4; do check_h5_identical "std.np$np.same_as_np1" "$M" "$TMP/std.np$np.h5"; done
# predict applies the model's scaling: distances in the scaled space (Pipeline.transform).
mpi std_predict 3 "$LIMIT" predict --model "$M" --input "$X" --output "$TMP/std_predict.h5" --distances --transform \
  --top-outliers 10
check_ran_ok std_predict.exit0
check_h5_identical std_predict.labels "$TMP/std_predict.h5" "$FIX" /labels $S/labels
close std_predict.transform "-p 1e-12" "$TMP/std_predict.h5" /transform $S/transform
check_h5_identical std_predict.outlier_rows "$TMP/std_predict.h5" "$FIX" /outliers/row $S/outlier_rows
check_h5_identical std_predict.distance_as_fit "$TMP/std_predict.h5" "$M" /distance /distance
# Out of core: mini-batch --stream scales block by block with the same scaling as in memory.
for stream in "" --stream; do
  mpi "std_mb$stream" 3 "$LIMIT" fit --input "$X" --k 4 --mode minibatch --batch-size 64 --standardize --distances \
    $stream --output "$TMP/std_mb$stream.h5"
  check_ran_ok "std_mb$stream.exit0"
done
check_h5_identical std_mb.stream_same_model "$TMP/std_mb.h5" "$TMP/std_mb--stream.h5"
check_h5_identical std_mb.scaling_as_lloyd "$TMP/std_mb.h5" "$M" /scaling /scaling

# ---------------------------------------------------------------- fit --distances, every mode
declare -A MODE=([lloyd]="--init $FIX:/init" [bisecting]="--mode bisecting" [minibatch]="--mode minibatch --batch-size 64"
                 [stream]="--mode minibatch --batch-size 64 --stream" [kmedians]="--mode kmedians"
                 [kmedoids]="--mode kmedoids --distance manhattan" [cosine]="--metric cosine")
for mode in lloyd bisecting minibatch stream kmedians kmedoids cosine; do
  # shellcheck disable=SC2086
  mpi "fitd.$mode" 3 "$LIMIT" fit --input "$X" --k 4 ${MODE[$mode]} --distances --output "$TMP/fitd.$mode.h5"
  check_ran_ok "fitd.$mode.exit0"
  mpi "fitd.$mode.predict" 2 "$LIMIT" predict --model "$TMP/fitd.$mode.h5" --input "$X" --distances \
    --output "$TMP/fitd.$mode.predict.h5"
  check_ran_ok "fitd.$mode.predict.exit0"
  check_h5_identical "fitd.$mode.distance_as_predict" "$TMP/fitd.$mode.h5" "$TMP/fitd.$mode.predict.h5" /distance /distance
done
check_h5_identical fitd.lloyd.labels_as_predict "$TMP/fitd.lloyd.h5" "$TMP/fitd.lloyd.predict.h5" /labels /labels
# Standardized fits of the other modes: predict scales the rows as the fit did (same distances).
for mode in bisecting stream kmedians kmedoids; do
  # shellcheck disable=SC2086
  mpi "fitds.$mode" 3 "$LIMIT" fit --input "$X" --k 4 ${MODE[$mode]} --standardize --distances --output "$TMP/fitds.$mode.h5"
  check_ran_ok "fitds.$mode.exit0"
  mpi "fitds.$mode.predict" 4 "$LIMIT" predict --model "$TMP/fitds.$mode.h5" --input "$X" --distances \
    --output "$TMP/fitds.$mode.predict.h5"
  check_ran_ok "fitds.$mode.predict.exit0"
  check_h5_identical "fitds.$mode.distance_as_predict" "$TMP/fitds.$mode.h5" "$TMP/fitds.$mode.predict.h5" /distance /distance
  check_h5_identical "fitds.$mode.labels_as_predict" "$TMP/fitds.$mode.h5" "$TMP/fitds.$mode.predict.h5" /labels /labels
done

# Sparse rows (CSR) with a cosine model: 1 - cos from the stored values; any rank count.
CSR="$DATA/tfidf_reference.h5:/sets/default/X"
mpi csr.fit 2 "$LIMIT" fit --input "$CSR" --k 3 --metric cosine --distances --output "$TMP/csr.h5"
check_ran_ok csr.fit.exit0
for np in 1 3; do
  mpi "csr.predict.np$np" "$np" "$LIMIT" predict --model "$TMP/csr.h5" --input "$CSR" --distances --transform \
    --top-outliers 5 --output "$TMP/csr.np$np.h5"
  check_ran_ok "csr.predict.np$np.exit0"
done
check_h5_identical csr.distance_as_fit "$TMP/csr.h5" "$TMP/csr.np1.h5" /distance /distance
check_h5_identical csr.np3.same_as_np1 "$TMP/csr.np1.h5" "$TMP/csr.np3.h5"

# Threads: the same bits.
mpi threads 2 "$LIMIT" predict --model "${MODEL[euclidean]}" --input "$X" --output "$TMP/threads.h5" \
  --distances --transform --top-outliers 10 --threads 3
check_ran_ok threads.exit0
check_h5_identical threads.same_as_one_thread "$TMP/euclidean.np2.h5" "$TMP/threads.h5"

# ---------------------------------------------------------------- bad options
expect_error bad.top_negative 2 "$TMP/bad/a.h5" "top-outliers" -- \
  predict --model "${MODEL[euclidean]}" --input "$X" --output "$TMP/bad/a.h5" --top-outliers -1
expect_error bad.predict_distances_no_output 2 "" "--distances" "--output" -- \
  predict --model "${MODEL[euclidean]}" --input "$X" --distances
expect_error bad.predict_transform_no_output 2 "" "--transform" "--output" -- \
  predict --model "${MODEL[euclidean]}" --input "$X" --transform
expect_error bad.fit_distances_no_output 2 "" "--distances" "--output" -- fit --input "$X" --k 3 --distances
expect_error bad.standardize_cosine 2 "$TMP/bad/b.h5" "--standardize" "cosine" -- \
  fit --input "$X" --k 3 --standardize --metric cosine --output "$TMP/bad/b.h5"
expect_error bad.standardize_sparse 3 "$TMP/bad/c.h5" "--standardize" "sparse" -- \
  fit --input "$CSR" --k 3 --standardize --output "$TMP/bad/c.h5"
finish
