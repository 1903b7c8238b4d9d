#!/usr/bin/env bash
# End-to-end test: messages that must say what is really wrong (issue 15, item 17), at 1 and
# 3 ranks: an unreadable file is "permission denied", not "not an HDF5 file"; --tol nan/inf
# is "a finite number >= 0"; a negative value of an unsigned option (--sample-size -5,
# --seed -1) and an empty --metrics/--criteria are refused, not taken silently; a corpus that
# is not UTF-8 text is refused naming the file and the byte offset (a directory's such file is
# skipped and counted).
#
#     bash tests/cli/bad_messages.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

GOOD=$BAD/good.h5
LABELS=$BAD/model_lloyd_vlen.h5:/labels  # 50 labels in [0, 3) for good.h5

for np in 1 3; do
  # ---- numbers
  expect_error "np$np.fit_tol_nan" "$np" "" "--tol must be a finite number >= 0 \(got nan\)" -- \
    fit --input "$GOOD:/X" --k 3 --tol nan
  expect_error "np$np.fit_tol_inf" "$np" "" "--tol must be a finite number >= 0 \(got inf\)" -- \
    fit --input "$GOOD:/X" --k 3 --tol inf
  expect_error "np$np.fit_tol_negative" "$np" "" "--tol must be a finite number >= 0" -- \
    fit --input "$GOOD:/X" --k 3 --tol -1
  expect_error "np$np.minibatch_tol_nan" "$np" "" "--tol must be a finite number >= 0" -- \
    fit --input "$GOOD:/X" --k 3 --mode minibatch --tol nan
  expect_error "np$np.choose_k_tol_nan" "$np" "$TMP/np$np/sweep.h5" "--tol must be a finite number >= 0" -- \
    choose-k --input "$GOOD:/X" --k-min 2 --k-max 3 --tol nan --output "$TMP/np$np/sweep.h5"
  expect_error "np$np.fit_seed_negative" "$np" "" "--seed must be a non-negative integer \(got '-1'\)" -- \
    fit --input "$GOOD:/X" --k 3 --seed -1
  expect_error "np$np.evaluate_sample_size_negative" "$np" "" "--sample-size must be a non-negative integer" -- \
    evaluate --input "$GOOD:/X" --labels "$LABELS" --sample-size -5
  expect_error "np$np.evaluate_sample_size_one" "$np" "" "--sample-size must be 0 .* or at least 2" -- \
    evaluate --input "$GOOD:/X" --labels "$LABELS" --sample-size 1
  expect_error "np$np.choose_k_sample_size_negative" "$np" "$TMP/np$np/sweep.h5" \
    "--silhouette-sample-size must be a non-negative integer" -- \
    choose-k --input "$GOOD:/X" --k-min 2 --k-max 3 --silhouette-sample-size -5 --output "$TMP/np$np/sweep.h5"

  # ---- lists that name nothing
  expect_error "np$np.evaluate_metrics_empty" "$np" "" "--metrics names no metric" -- \
    evaluate --input "$GOOD:/X" --labels "$LABELS" --metrics ""
  expect_error "np$np.evaluate_metrics_none_alone" "$np" "" "nothing to compute without --truth" -- \
    evaluate --input "$GOOD:/X" --labels "$LABELS" --metrics none
  expect_error "np$np.choose_k_criteria_empty" "$np" "$TMP/np$np/sweep.h5" "--criteria names no criterion" -- \
    choose-k --input "$GOOD:/X" --k-min 2 --k-max 3 --criteria "" --output "$TMP/np$np/sweep.h5"
done
mpi evaluate_metrics_none_truth 2 60 evaluate --input "$GOOD:/X" --labels "$LABELS" --metrics none \
  --truth "$LABELS" --json
check_ran_ok evaluate_metrics_none_truth
check_eq evaluate_metrics_none_truth.ari "$(json_get "$(cat "$OUT_FILE")" adjusted_rand)" 1

# ---- text that is not UTF-8: refused, naming the file and the first invalid byte
printf 'first document\nsecond document\nthird has \xff\xfe a bad byte\nfourth\n' >"$TMP/binary_lines.txt"
mkdir -p "$TMP/corpus"
printf 'one good document\n' >"$TMP/corpus/a.txt"
printf 'another good one\n' >"$TMP/corpus/b.txt"
printf 'text \0\001 more \303( tail\n' >"$TMP/corpus/c.bin"  # NUL is UTF-8; C3 28 is not
printf 'the last one\n' >"$TMP/corpus/d.txt"
for np in 1 3; do
  expect_error "np$np.tfidf_lines_not_utf8" "$np" "$TMP/np$np/lines.h5" \
    "corpus '' is not UTF-8 text: invalid byte sequence at byte offset 41" -- \
    tfidf --input "$TMP/binary_lines.txt" --output "$TMP/np$np/lines.h5"
  # A file of a directory that is not UTF-8 text is left out, counted once on stderr.
  mpi "np$np.tfidf_directory_not_utf8" "$np" 60 tfidf --input "$TMP/corpus/" --output "$TMP/np$np/dir.h5"
  check_ran_ok "np$np.tfidf_directory_not_utf8.runs"
  check_eq "np$np.tfidf_directory_not_utf8.skipped" \
    "$(grep -c "^lloyd tfidf: skipped 1 binary file (a NUL byte or invalid UTF-8) in '$TMP/corpus/'" "$ERR_FILE")" 1
  check_eq "np$np.tfidf_directory_not_utf8.documents" "$(h5_attr "$TMP/np$np/dir.h5" /n_documents)" 3
done

# ---- unreadable files: "permission denied", not "not an HDF5 file". Root reads everything, so
# as root the commands run as user nobody (setpriv); skipped where that is not possible.
mkdir -p "$TMP/locked"
cp "$GOOD" "$TMP/locked/data.h5"
cp "$BAD/model_lloyd_vlen.h5" "$TMP/locked/model.h5"
chmod 000 "$TMP/locked/data.h5" "$TMP/locked/model.h5"
chmod 777 "$TMP/locked"
chmod 711 "$TMP"
as_user=()
can_test_permissions=1
if [ "$(id -u)" -eq 0 ]; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp)
  if ! command -v setpriv >/dev/null; then
    echo "# SKIP permission checks: running as root without setpriv"
    can_test_permissions=0
  elif ! "${as_user[@]}" sh -c "test -x '$LLOYD' && test -r '$GOOD' && test -w '$TMP/locked'"; then
    # e.g. a checkout under /root: user nobody cannot reach the executable or the data.
    echo "# SKIP permission checks: user nobody cannot run $LLOYD or read $GOOD"
    can_test_permissions=0
  fi
fi
if [ "$can_test_permissions" = 1 ]; then
  saved_launcher=$LLOYD_MPIRUN
  LLOYD_MPIRUN="${as_user[*]} $LLOYD_MPIRUN"
  expect_error unreadable_input 3 "" "cannot read input file '': permission denied" -- \
    fit --input "$TMP/locked/data.h5:/X" --k 3
  expect_error unreadable_model 3 "$TMP/locked/labels.h5" "cannot read model '': permission denied" -- \
    predict --model "$TMP/locked/model.h5" --input "$GOOD:/X" --output "$TMP/locked/labels.h5"
  expect_error unreadable_vocabulary 3 "" "cannot read file '': permission denied" -- \
    top-terms --model "$BAD/model_lloyd_vlen.h5" --vocabulary "$TMP/locked/model.h5:/vocabulary"
  LLOYD_MPIRUN=$saved_launcher
fi
chmod 700 "$TMP"

finish
