#!/usr/bin/env bash
# End-to-end test: results do not depend on the number of MPI ranks.
#
#     bash tests/cli/rank_invariance.sh /path/to/lloyd
#
# Environment: LLOYD_MPIRUN (launcher and flags, default "mpirun --oversubscribe"),
# LLOYD_TEST_DATA (unused here; the data are generated).
#   - `lloyd generate` at 2 and 3 ranks writes identical files (h5diff, attributes included);
#   - `lloyd fit` at 1..4 ranks writes identical models, for float64 and float32 data and
#     for every init method, and prints a JSON line with the expected keys and n_ranks = p;
#   - every --algorithm gives the labels and centroids of --algorithm lloyd, says which ran,
#     and the model keeps per-phase timings in /timings;
#   - --threads 2 and 3 per rank give the labels, centroids and inertia of one thread (Lloyd
#     and Hamerly, direct scores at d = 16 and tiles at d = 40).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

LIMIT=120
JSON_KEYS=(inertia n_iter converged k n_samples n_features n_ranks seconds)

# generate_invariant NAME GENERATE-ARGS...: generate at 2 and at 3 ranks, compare.
generate_invariant() {
  local name=$1 p
  shift
  for p in 2 3; do
    mpi "gen_$name.p$p" "$p" "$LIMIT" generate --output "$TMP/$name.p$p.h5" "$@"
    check_ran_ok "generate.$name.p$p.exit0"
  done
  check_h5_identical "generate.$name.p2_vs_p3.identical" "$TMP/$name.p2.h5" "$TMP/$name.p3.h5"
  cp "$TMP/$name.p2.h5" "$TMP/$name.h5" 2>/dev/null
}

# check_json NAME NRANKS EXPECT_K EXPECT_N EXPECT_D: the stdout of the last run holds exactly
# one JSON object line with every key of JSON_KEYS, n_ranks = NRANKS and the given shape.
check_json() {
  local name=$1 np=$2 k=$3 n=$4 d=$5 json key problems=()
  json=$(grep -a '^{' "$OUT_FILE")
  if [ "$(printf '%s\n' "$json" | grep -c '^{')" -ne 1 ]; then
    fail "$name" "expected exactly one JSON line on stdout" "$OUT_FILE"
    return
  fi
  for key in "${JSON_KEYS[@]}"; do
    printf '%s' "$json" | grep -q "\"$key\" *:" || problems+=("no key '$key'")
  done
  [ "$(json_get "$json" n_ranks)" = "$np" ] || problems+=("n_ranks = '$(json_get "$json" n_ranks)', expected $np")
  [ "$(json_get "$json" k)" = "$k" ] || problems+=("k = '$(json_get "$json" k)', expected $k")
  [ "$(json_get "$json" n_samples)" = "$n" ] || problems+=("n_samples = '$(json_get "$json" n_samples)', expected $n")
  [ "$(json_get "$json" n_features)" = "$d" ] || problems+=("n_features = '$(json_get "$json" n_features)', expected $d")
  if [ ${#problems[@]} -eq 0 ]; then pass "$name"
  else local IFS=';'; fail "$name" "${problems[*]}" "$OUT_FILE"; fi
}

# fit_invariant NAME INPUT "RANKS..." FIT-ARGS...: fit at each rank count; every model must
# equal the one from the first rank count.
fit_invariant() {
  local name=$1 input=$2 ranks=$3 p first=""
  shift 3
  for p in $ranks; do
    local model=$TMP/$name.m$p.h5
    mpi "fit_$name.p$p" "$p" "$LIMIT" fit --input "$input" --k 8 --seed 1 --output "$model" --json "$@"
    check_ran_ok "fit.$name.p$p.exit0"
    check_json "fit.$name.p$p.json" "$p" 8 20000 16
    if [ -z "$first" ]; then first=$p; continue; fi
    check_h5_identical "fit.$name.p${first}_vs_p$p.identical" "$TMP/$name.m$first.h5" "$model"
  done
}

SHAPE=(--samples 20000 --features 16 --centers 8 --seed 5)

# ---- data
generate_invariant f64 "${SHAPE[@]}"
generate_invariant f32 "${SHAPE[@]}" --dtype float32
# Overlapping blobs: many more Lloyd iterations (about 20), so reduction order would show.
generate_invariant overlap "${SHAPE[@]}" --cluster-std 6
check_eq generate.f64.dtype "$(h5_type "$TMP/f64.h5" /X)" H5T_IEEE_F64LE
check_eq generate.f32.dtype "$(h5_type "$TMP/f32.h5" /X)" H5T_IEEE_F32LE

# ---- models
fit_invariant f64 "$TMP/f64.h5:/X" "1 2 3 4"
fit_invariant overlap "$TMP/overlap.h5:/X" "1 2 3 4"
fit_invariant f32 "$TMP/f32.h5:/X" "1 4"
fit_invariant f64_forgy "$TMP/f64.h5:/X" "1 4" --init forgy
fit_invariant f64_random_partition "$TMP/f64.h5:/X" "1 4" --init random-partition
fit_invariant f64_kmeanspp_ninit3 "$TMP/f64.h5:/X" "1 4" --init k-means++ --n-init 3

# ---- assignment algorithms: the same result as Lloyd's (overlapping blobs, k = 24 so that
# Yinyang has two groups), at 3 ranks; the per-rank-count identity is covered above.
for algorithm in lloyd hamerly yinyang auto; do
  mpi "algorithm_$algorithm" 3 "$LIMIT" fit --input "$TMP/overlap.h5:/X" --k 24 --seed 2 --tol 0 \
    --algorithm "$algorithm" --output "$TMP/algorithm_$algorithm.h5" --json
  check_ran_ok "fit.algorithm.$algorithm.exit0"
  json=$(grep -a '^{' "$OUT_FILE")
  ran=$(json_get "$json" algorithm)
  check_eq "fit.algorithm.$algorithm.json" "$ran" "$([ "$algorithm" = auto ] && echo hamerly || echo "$algorithm")"
  check_eq "fit.algorithm.$algorithm.attribute" "$(h5_attr "$TMP/algorithm_$algorithm.h5" /assignment)" "$ran"
  [ "$algorithm" = lloyd ] && continue
  for dataset in /labels /centroids; do
    check_h5_identical "fit.algorithm.$algorithm.same_${dataset#/}" "$TMP/algorithm_lloyd.h5" \
      "$TMP/algorithm_$algorithm.h5" "$dataset" "$dataset"
  done
  check_eq "fit.algorithm.$algorithm.same_inertia" "$(h5_attr "$TMP/algorithm_$algorithm.h5" /inertia)" \
    "$(h5_attr "$TMP/algorithm_lloyd.h5" /inertia)"
done
for phase in io init assign reduce update write peak_rss_mb; do
  if h5_has_attr "$TMP/algorithm_auto.h5" "/timings/$phase"; then pass "fit.timings.$phase"
  else fail "fit.timings.$phase" "no attribute /timings/$phase in the model"; fi
done
# ---- threads per rank (--threads): the same model as one thread.
mpi gen_d40 2 "$LIMIT" generate --output "$TMP/d40.h5" --samples 6000 --features 40 --centers 8 --seed 6 --dtype float32
check_ran_ok generate.d40.exit0
for input in f64 d40; do
  for algorithm in lloyd hamerly; do
    for threads in 1 2 3; do
      model=$TMP/threads.$input.$algorithm.t$threads.h5
      mpi "threads.$input.$algorithm.t$threads" 2 "$LIMIT" fit --input "$TMP/$input.h5:/X" --k 12 --seed 3 --tol 0 \
        --max-iter 15 --algorithm "$algorithm" --threads "$threads" --output "$model"
      check_ran_ok "fit.threads.$input.$algorithm.t$threads.exit0"
      [ "$threads" = 1 ] && continue
      for dataset in /labels /centroids /history/inertia; do
        name=${dataset#/}
        check_h5_identical "fit.threads.$input.$algorithm.t$threads.same_${name//\//_}" \
          "$TMP/threads.$input.$algorithm.t1.h5" "$model" "$dataset" "$dataset"
      done
      check_eq "fit.threads.$input.$algorithm.t$threads.same_inertia" "$(h5_attr "$model" /inertia)" \
        "$(h5_attr "$TMP/threads.$input.$algorithm.t1.h5" /inertia)"
    done
  done
done

expect_error fit.algorithm.unknown 2 "$TMP/never.h5" "algorithm" "kmeans2" -- \
  fit --input "$TMP/f64.h5:/X" --k 3 --algorithm kmeans2 --output "$TMP/never.h5"

finish
