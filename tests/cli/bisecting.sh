#!/usr/bin/env bash
# End-to-end test of issue 5: k-means|| seeding and bisecting mode.
#
#     bash tests/cli/bisecting.sh /path/to/lloyd
#
# Environment: LLOYD_MPIRUN (launcher and flags, default "mpirun --oversubscribe"),
# LLOYD_TEST_DATA (default tests/data).
#   - `fit --init k-means||` at 1..4 ranks writes identical models, reports init_inertia in
#     --json and in the model (also for k-means++), and records ℓ and the rounds;
#   - `fit --mode bisecting` at 1, 2 and 4 ranks writes identical models with a /tree of
#     2k − 1 nodes; `predict` with such a model descends the tree and gives the fit's labels;
#   - bad values of the new options fail with one clear line, at 2 ranks.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
NP=2
mpi gen 2 "$LIMIT" generate --output "$TMP/blobs.h5" --samples 6000 --features 6 --centers 7 \
  --cluster-std 2 --seed 3
check_ran_ok generate.exit0
X="$TMP/blobs.h5:/X"

# ---------------------------------------------------------------- k-means||
first=""
for p in 1 2 3 4; do
  mpi "kpar.p$p" "$p" "$LIMIT" fit --input "$X" --k 9 --init 'k-means||' --seed 4 \
    --oversampling 5 --init-rounds 3 --output "$TMP/kpar.p$p.h5" --json
  check_ran_ok "kpar.p$p.exit0"
  if [ -z "$first" ]; then first=$p; JSON=$(grep -a '^{' "$OUT_FILE"); continue; fi
  check_h5_identical "kpar.p${first}_vs_p$p.identical" "$TMP/kpar.p$first.h5" "$TMP/kpar.p$p.h5"
done
INIT_INERTIA=$(json_get "$JSON" init_inertia)
INERTIA=$(json_get "$JSON" inertia)
check "kpar.json.init_inertia" "no init_inertia >= inertia in: $JSON" \
  awk -v a="$INIT_INERTIA" -v b="$INERTIA" 'BEGIN { exit !(a != "" && a + 0 >= b + 0 && b + 0 > 0) }'
check_eq kpar.model.init "$(h5_attr "$TMP/kpar.p1.h5" /init)" "k-means||"
check_eq kpar.model.oversampling "$(h5_attr "$TMP/kpar.p1.h5" /oversampling)" 5
check_eq kpar.model.init_rounds "$(h5_attr "$TMP/kpar.p1.h5" /init_rounds)" 3
check kpar.model.init_inertia "no init_inertia attribute" h5_has_attr "$TMP/kpar.p1.h5" /init_inertia

# Default ℓ = 2k is recorded as such.
mpi kpar_default 2 "$LIMIT" fit --input "$X" --k 9 --init 'k-means||' --output "$TMP/kpar_default.h5"
check_ran_ok kpar_default.exit0
check_eq kpar_default.oversampling "$(h5_attr "$TMP/kpar_default.h5" /oversampling)" 18

mpi kpp 2 "$LIMIT" fit --input "$X" --k 9 --output "$TMP/kpp.h5" --json
check_ran_ok kpp.exit0
check kpp.json.init_inertia "no init_inertia in --json" grep -q '"init_inertia"' "$OUT_FILE"
check kpp.model.init_inertia "no init_inertia attribute" h5_has_attr "$TMP/kpp.h5" /init_inertia

# ---------------------------------------------------------------- bisecting
for strategy in biggest-inertia largest-cluster; do
  first=""
  for p in 1 2 4; do
    model=$TMP/bis.$strategy.p$p.h5
    mpi "bis.$strategy.p$p" "$p" "$LIMIT" fit --input "$X" --k 8 --mode bisecting \
      --bisecting-strategy "$strategy" --n-init 2 --seed 2 --output "$model" --json
    check_ran_ok "bis.$strategy.p$p.exit0"
    if [ -z "$first" ]; then first=$p; JSON=$(grep -a '^{' "$OUT_FILE"); continue; fi
    check_h5_identical "bis.$strategy.p${first}_vs_p$p.identical" "$TMP/bis.$strategy.p$first.h5" "$model"
  done
  model=$TMP/bis.$strategy.p1.h5
  check_eq "bis.$strategy.json.mode" "$(json_get "$JSON" mode)" bisecting
  check_eq "bis.$strategy.algorithm" "$(h5_attr "$model" /algorithm)" bisecting
  check_eq "bis.$strategy.strategy" "$(h5_attr "$model" /bisecting_strategy)" "$strategy"
  check_eq "bis.$strategy.tree.children" "$(h5_dims "$model" /tree/children)" "15 x 2"
  check_eq "bis.$strategy.tree.centers" "$(h5_dims "$model" /tree/centers)" "15 x 6"
  check_eq "bis.$strategy.tree.root_size" "$(h5_attr "$model" /n_samples)" 6000
  check_eq "bis.$strategy.centroids" "$(h5_dims "$model" /centroids)" "8 x 6"
  # predict descends the tree: the training rows get their fit labels back.
  mpi "bis.$strategy.predict" 3 "$LIMIT" predict --model "$model" --input "$X" \
    --output "$TMP/bis.$strategy.labels.h5"
  check_ran_ok "bis.$strategy.predict.exit0"
  check_h5_identical "bis.$strategy.predict.labels" "$TMP/bis.$strategy.labels.h5" "$model" /labels /labels
done

# ---------------------------------------------------------------- help and bad values
mpi help 2 "$LIMIT" fit --help
check_ran_ok help.exit0
for option in --oversampling --init-rounds --mode --bisecting-strategy; do
  check "help.$option" "fit --help lacks $option" grep -q -- "$option" "$OUT_FILE"
done

bad() {
  local name=$1 pattern=$2
  shift 2
  expect_error "$name" "$NP" "$TMP/bad/$name.h5" "$pattern" -- fit --input "$X" --k 4 \
    --output "$TMP/bad/$name.h5" "$@"
}
bad bad_mode "--mode" --mode kmedoidz
bad bad_strategy "--bisecting-strategy" --mode bisecting --bisecting-strategy smallest
bad negative_oversampling "--oversampling" --init 'k-means||' --oversampling -1
bad zero_rounds "--init-rounds" --init 'k-means||' --init-rounds 0
bad bisecting_init_file "--init" --mode bisecting --init "$X"
expect_error bisecting_k_too_big "$NP" "$TMP/bad/k.h5" "must be between 1 and the number of rows" -- fit --input "$X" --k 7000 \
  --mode bisecting --output "$TMP/bad/k.h5"
bad unknown_init "k-means\|\|" --init 'k-means|||'

finish
