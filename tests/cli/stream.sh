#!/usr/bin/env bash
# End-to-end test of fit --stream for the Lloyd loop (issue 22 item 4): rows read from the file
# block by block every iteration (RowSource::kStreamBlock = 65536 rows, so 140000 rows make
# several blocks, also per rank at 2 ranks) give the model of the in-memory fit bit for bit
# (h5diff, timings aside) for Lloyd, Hamerly and Yinyang, seeded by forgy, random-partition,
# k-means|| (with and without sample weights) or a file, with --distances written block by
# block; --json reports what was read; k-means++ is refused with one line naming the inits
# that stream, and so is k-means|| when it draws fewer than k candidates (in memory it falls
# back to k-means++).
#
#     bash tests/cli/stream.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=60
mpi generate 2 "$LIMIT" generate --output "$TMP/rows.h5" --samples 140000 --features 5 --centers 9 \
  --cluster-std 3 --dtype float32
check_ran_ok generate
ROWS=$TMP/rows.h5:/X
ROWS_Y=$TMP/rows.h5:/y

# same_model NAME NP FIT-ARGS...: the in-memory and the streamed fit, then h5diff of the models.
same_model() {
  local name=$1 np=$2
  shift 2
  mpi "$name.memory" "$np" "$LIMIT" fit --input "$ROWS" "$@" --output "$TMP/$name.memory.h5" --distances
  check_ran_ok "$name.memory.ran"
  mpi "$name.stream" "$np" "$LIMIT" fit --input "$ROWS" "$@" --output "$TMP/$name.stream.h5" --distances \
    --stream --json
  check_ran_ok "$name.stream.ran"
  run "$name.h5diff" 30 h5diff --exclude-path /timings "$TMP/$name.memory.h5" "$TMP/$name.stream.h5"
  check_eq "$name.identical" "$RC $(head -c 300 "$OUT_FILE")" "0 "
}

same_model lloyd.np1 1 --k 12 --init forgy --algorithm lloyd
same_model hamerly.np3 3 --k 12 --init forgy --algorithm hamerly
same_model yinyang.np2 2 --k 40 --init random-partition --algorithm yinyang --max-iter 15
# k-means||: a pass per round, the drawn rows read by index, the same centres at 1-4 ranks;
# weighted by the generator's labels (0-8: rows of weight 0 are never drawn).
same_model parallel.np1 1 --k 12 --init 'k-means||' --algorithm lloyd --max-iter 10
same_model parallel.np2 2 --k 12 --init 'k-means||' --algorithm hamerly --max-iter 10 --seed 3
same_model parallel.np3 3 --k 30 --init 'k-means||' --algorithm yinyang --max-iter 10 --sample-weight "$ROWS_Y"
same_model parallel.np4 4 --k 12 --init 'k-means||' --max-iter 10 --sample-weight "$ROWS_Y" --seed 5
# Given centres (the first rows of another fit's model) at 4 ranks, auto.
same_model file.np4 4 --init "$TMP/lloyd.np1.memory.h5:/centroids" --max-iter 20

# The last --json: one pass per iteration of the whole file's bytes, and the reading time.
JSON=$(tail -n 1 "$TMP/file.np4.stream.out")
check_eq json.stream "$(json_get "$JSON" stream)" true
check json.stream_io "no stream_io with passes, bytes_per_iteration (140000 x 5 x 4) and io_seconds: $JSON" \
  grep -Eq '"stream_io":\{"passes":[0-9]+,"bytes_per_iteration":2800000,"bytes_read":[0-9.e+]+,"io_seconds":[0-9.e+-]+\}' \
  <<<"$JSON"

expect_error refused.kmeanspp 2 "$TMP/refused.h5" "--stream seeds with --init k-means\|\|, forgy, random or random-partition" \
  "k-means\+\+ needs the rows in memory" -- fit --input "$ROWS" --k 4 --stream \
  --output "$TMP/refused.h5"
# One round of about one candidate cannot give 40 centres: in memory k-means++ takes over.
expect_error refused.few_candidates 2 "$TMP/refused.h5" "k-means\|\| drew fewer than k = 40 candidates" \
  "falls back to k-means\+\+" -- fit --input "$ROWS" --k 40 --init 'k-means||' --init-rounds 1 \
  --oversampling 1 --stream --output "$TMP/refused.h5"
expect_error refused.cosine 1 "" "--stream" "--mode minibatch or lloyd with --metric euclidean" -- \
  fit --input "$ROWS" --k 4 --init forgy --metric cosine --stream

finish
