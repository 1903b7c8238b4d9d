#!/usr/bin/env bash
# End-to-end test: the memory a fit needs per rank is known before it reads a row (issue 22
# items 2 and 3): --verbose and --json print the estimate, --estimate-only prints it and the
# ranks the data would need and exits without reading or writing, and --max-memory-per-rank
# refuses up front (one line, every rank non-zero, no output) naming the estimate, the limit
# and how many ranks would fit; a SIZE that is not one is refused naming the option.
#
#     bash tests/cli/memory.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
BLOBS=$DATA/lloyd_blobs_f64.h5

# 200000 x 8 float32 (6.1 MiB of rows): by the model ~36.9 MiB per rank at 1 rank, 33.4 at 2,
# 34.1 at 3 (from 3 ranks one rank stages the collective read: the 6.1 MiB file) and 33.6 at 4:
# within 33.7 MiB "at least 4 ranks" (2 fit too, but 3 do not; the process baseline alone is
# 26 MiB).
mpi generate 2 "$LIMIT" generate --output "$TMP/rows.h5" --samples 200000 --features 8 --centers 4 --dtype float32
check_ran_ok generate
ROWS=$TMP/rows.h5

# ---------------------------------------------------------------- the estimate, printed

mpi json 2 "$LIMIT" fit --input "$ROWS:/X" --k 4 --json --max-memory-per-rank none
check_ran_ok json.ran
JSON=$(tail -n 1 "$OUT_FILE")
check json.estimate "no memory_estimate_mb with a total, the shard and the ranks in: $JSON" \
  grep -Eq '"memory_estimate_mb":\{"total":[0-9.]+,"ranks":2,"parts":\{"process_baseline":26,"shard":3\.05' <<<"$JSON"
check json.no_limit "a limit reported with --max-memory-per-rank none: $JSON" \
  grep -q '"limit":null,"ranks_needed":null}' <<<"$JSON"

mpi verbose 3 "$LIMIT" fit --input "$ROWS:/X" --k 4 --verbose --max-memory-per-rank 1G
check_ran_ok verbose.ran
check_eq verbose.one_line "$(grep -c '^lloyd fit: memory per rank ~' "$ERR_FILE")" 1
check verbose.parts "the line lacks the parts or the limit: $(grep -m1 'memory per rank' "$ERR_FILE")" \
  grep -Eq 'memory per rank ~[0-9.]+ MiB at 3 ranks \(limit 1 GiB\): process baseline 26 MiB, shard 2.03 MiB' \
  "$ERR_FILE"

# --estimate-only: the estimate and the fewest ranks within the limit; nothing read or written.
mpi estimate_only 1 "$LIMIT" fit --input "$ROWS:/X" --k 4 --output "$TMP/never.h5" --estimate-only --json \
  --max-memory-per-rank 33.8M
check_ran_ok estimate_only.ran
JSON=$(tail -n 1 "$OUT_FILE")
check_eq estimate_only.ranks_needed "$(json_get "$JSON" ranks_needed)" 4
check_eq estimate_only.fits "$(json_get "$JSON" fits)" false
check estimate_only.no_output "--estimate-only wrote $TMP/never.h5" test ! -e "$TMP/never.h5"

# ---------------------------------------------------------------- refused up front

# At 1 and 3 ranks: one line naming the estimate, the limit and the ranks needed; the output is
# never created (mini-batch would create it as it fits).
expect_error refused.np1 1 "$TMP/refused1.h5" "needs ~36.9 MiB per rank at 1 rank" "the limit is 33.7 MiB" \
  "use at least 4 ranks" -- fit --input "$ROWS:/X" --k 4 --output "$TMP/refused1.h5" --max-memory-per-rank 33.7M
expect_error refused.np3 3 "$TMP/refused3.h5" "needs ~34.1 MiB per rank at 3 ranks" "the limit is 33.7 MiB" \
  "use at least 4 ranks" -- fit --input "$ROWS:/X" --k 4 --output "$TMP/refused3.h5" --max-memory-per-rank 33.7M
# Mini-batch (~33.7 MiB at 1 rank, 30.2 at 2) would create its output as it fits. From 3 ranks
# one rank also stages the 6.1 MiB file (over 31 MiB at any count): 2 ranks exactly, not "at least".
expect_error refused.minibatch 1 "$TMP/refused_minibatch.h5" "needs ~33.7 MiB per rank at 1 rank" \
  "the limit is 31 MiB" "use 2 ranks with 31 MiB each" "from 3 ranks one rank also stages" -- fit --input "$ROWS:/X" --k 4 --mode minibatch \
  --output "$TMP/refused_minibatch.h5" --max-memory-per-rank 31M
expect_error refused.none_fits 2 "" "the limit is 20 MiB" "no rank count fits" -- \
  fit --input "$BLOBS:/X" --k 3 --max-memory-per-rank 20M

# Every rank exits non-zero (each writes its own status).
run every_rank "$LIMIT" env "LLOYD_CLI_TEST_TAG=$TAG" $LLOYD_MPIRUN -n 3 bash -c \
  '"$1" fit --input "$2" --k 4 --max-memory-per-rank 33.8M; echo $? >"$3.$OMPI_COMM_WORLD_RANK"' \
  _ "$LLOYD" "$ROWS:/X" "$TMP/status"
check_eq every_rank.status "$(cat "$TMP"/status.* 2>/dev/null | sort | tr '\n' ' ')" "1 1 1 "

# By default the limit is the cgroup's (here a made-up cgroup v2 hierarchy, 100 MiB) divided by
# the ranks on the node: 100 MiB at 1 rank, 33.3 MiB each at 3 — refused, naming where it came from
# (5 ranks of 33.3 MiB would do: on more nodes, or with more memory).
mkdir -p "$TMP/cgroup"
echo 104857600 >"$TMP/cgroup/memory.max"
export LLOYD_CGROUP_ROOT=$TMP/cgroup
mpi cgroup.np1 1 "$LIMIT" fit --input "$ROWS:/X" --k 4 --json
check_ran_ok cgroup.np1
check_eq cgroup.np1.limit "$(grep -o '"limit":[0-9.]*' "$OUT_FILE")" '"limit":100'
expect_error cgroup.np3 3 "$TMP/cgroup3.h5" "needs ~34.1 MiB per rank at 3 ranks" "the limit is 33.3 MiB" \
  "cgroup's memory limit / 3 ranks on the node" "use at least 5 ranks with 33.3 MiB each" -- \
  fit --input "$ROWS:/X" --k 4 --output "$TMP/cgroup3.h5"
echo max >"$TMP/cgroup/memory.max"  # no limit
mpi cgroup.max 3 "$LIMIT" fit --input "$ROWS:/X" --k 4 --json
check_ran_ok cgroup.max
unset LLOYD_CGROUP_ROOT

# A limit the estimate fits: the fit runs.
mpi within 3 "$LIMIT" fit --input "$ROWS:/X" --k 4 --max-memory-per-rank 1.5GiB
check_ran_ok within

# ---------------------------------------------------------------- evaluate and choose-k

# The same mechanism: the estimate from the shape (and, for evaluate, the labels' distinct
# values), printed and refused up front. The exact silhouette of 200000 rows in 4 clusters
# holds 4 × 8 bytes of sums per row (int64: at most 2^18 rows): ~42 MiB at 1 rank, 37.2 at 3
# (the ring's visiting block); 4 ranks are the fewest within 36 MiB.
mpi evaluate.json 2 "$LIMIT" evaluate --input "$ROWS:/X" --labels "$ROWS:/y" --sample-size 2000 --json --verbose
check_ran_ok evaluate.json
JSON=$(tail -n 1 "$OUT_FILE")
check evaluate.json.estimate "no memory_estimate_mb or peak_rss_mb in: $JSON" \
  grep -Eq '"peak_rss_mb":[0-9.]+,"memory_estimate_mb":\{"total":[0-9.]+,"ranks":2,"parts":\{"process_baseline":26,"shard":3\.05' <<<"$JSON"
check_eq evaluate.verbose "$(grep -c '^lloyd evaluate: memory per rank ~' "$ERR_FILE")" 1
mpi evaluate.estimate_only 1 "$LIMIT" evaluate --input "$ROWS:/X" --labels "$ROWS:/y" --estimate-only --json \
  --max-memory-per-rank 36M
check_ran_ok evaluate.estimate_only
JSON=$(tail -n 1 "$OUT_FILE")
check_eq evaluate.estimate_only.clusters "$(json_get "$JSON" clusters)" 4
check_eq evaluate.estimate_only.ranks_needed "$(json_get "$JSON" ranks_needed)" 4
expect_error evaluate.refused.np1 1 "$TMP/evaluate1.h5" "evaluate needs ~42 MiB per rank at 1 rank" \
  "the limit is 36 MiB" "use at least 4 ranks" -- \
  evaluate --input "$ROWS:/X" --labels "$ROWS:/y" --output "$TMP/evaluate1.h5" --max-memory-per-rank 36M
expect_error evaluate.refused.np3 3 "$TMP/evaluate3.h5" "evaluate needs ~37.2 MiB per rank at 3 ranks" \
  "the limit is 36 MiB" "use at least 4 ranks" -- \
  evaluate --input "$ROWS:/X" --labels "$ROWS:/y" --output "$TMP/evaluate3.h5" --max-memory-per-rank 36M
# choose-k: the largest fit (K = 4) with k-means++ and the sampled silhouette; the gap
# statistic's reference sets are made in the shard's own memory (no second shard): ~36.9 MiB at
# 1 rank, 34.1 at 3.
expect_error choose_k.refused.np1 1 "$TMP/sweep1.h5" "choose-k needs ~36.9 MiB per rank at 1 rank" \
  "the limit is 33 MiB" "use at least" -- \
  choose-k --input "$ROWS:/X" --k-max 4 --output "$TMP/sweep1.h5" --max-memory-per-rank 33M
expect_error choose_k.refused.np3 3 "$TMP/sweep3.h5" "choose-k needs ~34.1 MiB per rank at 3 ranks" \
  "the limit is 33 MiB" "use at least" -- \
  choose-k --input "$ROWS:/X" --k-max 4 --output "$TMP/sweep3.h5" --max-memory-per-rank 33M
mpi choose_k.estimate_only 2 "$LIMIT" choose-k --input "$ROWS:/X" --k-max 4 --output "$TMP/never_sweep.h5" \
  --estimate-only --json --max-memory-per-rank none
check_ran_ok choose_k.estimate_only
check choose_k.estimate_only.gap "a gap reference besides the shard in: $(tail -n 1 "$OUT_FILE")" \
  bash -c "grep -q '\"shard\":3.05' '$OUT_FILE' && ! grep -q gap_reference '$OUT_FILE'"
check choose_k.no_output "--estimate-only wrote $TMP/never_sweep.h5" test ! -e "$TMP/never_sweep.h5"
# The default limit, from the cgroup (100 MiB / 3 ranks), refuses evaluate up front too.
echo 104857600 >"$TMP/cgroup/memory.max"
export LLOYD_CGROUP_ROOT=$TMP/cgroup
expect_error evaluate.cgroup 3 "" "evaluate needs ~37.2 MiB per rank at 3 ranks" \
  "the limit is 33.3 MiB" "cgroup's memory limit / 3 ranks on the node" -- \
  evaluate --input "$ROWS:/X" --labels "$ROWS:/y"
unset LLOYD_CGROUP_ROOT

# ---------------------------------------------------------------- SIZE parsing

for bad in 2X -1G abc 0 1e400 2GG; do
  expect_error "bad_size.$bad" 2 "" "--max-memory-per-rank" "2G, 512M" -- \
    fit --input "$BLOBS:/X" --k 3 "--max-memory-per-rank=$bad"
done
for good in 2G 512M 1.5GiB 800MB 4294967296 none; do
  mpi "good_size.$good" 1 "$LIMIT" fit --input "$BLOBS:/X" --k 3 --max-memory-per-rank "$good"
  check_ran_ok "good_size.$good"
done

finish
