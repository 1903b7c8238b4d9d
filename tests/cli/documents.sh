#!/usr/bin/env bash
# End-to-end test of the document pipeline: lloyd tfidf, fit --metric cosine, predict,
# top-terms, CSR input everywhere, and the errors of malformed CSR files and bad options.
#
#     bash tests/cli/documents.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

CORPUS=$DATA/tfidf_corpus.txt
PRUNED=(--min-df 2 --max-df 0.5 --stop-words english --sublinear-tf)

# ---- tfidf: the same file for 1-4 ranks (the matrix itself is checked against scikit-learn
# in documents_tests)
for p in 1 2 3 4; do
  mpi "tfidf.p$p" "$p" 120 tfidf --input "$CORPUS" --output "$TMP/tfidf.p$p.h5" "${PRUNED[@]}" --json
  check_ran_ok "tfidf.p$p.runs"
done
check_eq tfidf.n_terms "$(h5_attr "$TMP/tfidf.p1.h5" /n_terms)" 620
check_eq tfidf.vocabulary_length "$(h5_dims "$TMP/tfidf.p1.h5" /vocabulary)" 620
check_eq tfidf.json_nonzeros "$(json_get "$(cat "$TMP/tfidf.p1.out")" nonzeros)" 2806
for p in 2 3 4; do check_h5_identical "tfidf.p1_vs_p$p.identical" "$TMP/tfidf.p1.h5" "$TMP/tfidf.p$p.h5"; done

# ---- a directory corpus: one document per file, sorted by path, names kept
mkdir -p "$TMP/docs/b"
echo "the cat sat on the mat" >"$TMP/docs/a.txt"
printf 'dogs chase cats\nacross two lines\n' >"$TMP/docs/b/c.txt"
echo "a mat for the cat" >"$TMP/docs/b/b.txt"
for p in 1 3; do
  mpi "dir.p$p" "$p" 60 tfidf --input "$TMP/docs" --output "$TMP/dir.p$p.h5"
  check_ran_ok "dir.p$p.runs"
done
check_eq dir.documents "$(h5_attr "$TMP/dir.p1.h5" /n_documents)" 3
check "dir.names" "document_names is not a.txt, b/b.txt, b/c.txt" \
  bash -c "h5dump -d /document_names '$TMP/dir.p1.h5' | grep -q '\"a.txt.*\", \"b/b.txt\", \"b/c.txt\"'"
check_h5_identical dir.p1_vs_p3.identical "$TMP/dir.p1.h5" "$TMP/dir.p3.h5"

# ---- spherical K-Means on the sparse matrix: the same model for 1-4 ranks
for p in 1 2 3 4; do
  mpi "cosine.p$p" "$p" 120 fit --metric cosine --input "$TMP/tfidf.p1.h5:/X" --k 6 --n-init 2 --seed 2 \
    --output "$TMP/cosine.p$p.h5" --json
  check_ran_ok "cosine.p$p.runs"
done
check_eq cosine.metric_attribute "$(h5_attr "$TMP/cosine.p1.h5" /metric)" cosine
check_eq cosine.json_metric "$(json_get "$(cat "$TMP/cosine.p1.out")" metric)" cosine
for p in 2 3 4; do check_h5_identical "cosine.p1_vs_p$p.identical" "$TMP/cosine.p1.h5" "$TMP/cosine.p$p.h5"; done

# predict with a cosine model gives the model's own labels back
mpi predict_cosine 3 60 predict --model "$TMP/cosine.p1.h5" --input "$TMP/tfidf.p1.h5:/X" --output "$TMP/labels.h5"
check_ran_ok predict_cosine.runs
check_h5_identical predict_cosine.same_labels "$TMP/cosine.p1.h5" "$TMP/labels.h5" /labels /labels

# top-terms: one line per cluster; the sizes add up to the documents
mpi top_terms 2 60 top-terms --model "$TMP/cosine.p1.h5" --vocabulary "$TMP/tfidf.p1.h5" --n 5
check_ran_ok top_terms.runs
check_eq top_terms.lines "$(grep -c '^cluster [0-9]* ([0-9]* documents): [^,]*, [^,]*, [^,]*, [^,]*, [^,]*$' "$OUT_FILE")" 6
check_eq top_terms.sizes_add_up "$(sed -n 's/^cluster [0-9]* (\([0-9]*\) documents).*/\1/p' "$OUT_FILE" | paste -sd+ | bc)" 150

# ---- dense input with --metric cosine, and CSR input with the Euclidean fit and evaluate
for p in 1 3; do
  mpi "dense_cosine.p$p" "$p" 60 fit --metric cosine --input "$DATA/lloyd_blobs_f64.h5:/X" --k 3 --seed 1 \
    --output "$TMP/dense_cosine.p$p.h5"
  check_ran_ok "dense_cosine.p$p.runs"
done
check_h5_identical dense_cosine.p1_vs_p3.identical "$TMP/dense_cosine.p1.h5" "$TMP/dense_cosine.p3.h5"
mpi sparse_euclidean 3 60 fit --input "$BAD/csr_good.h5:/X" --k 2 --seed 1 --output "$TMP/sparse.h5"
check_ran_ok sparse_euclidean.runs
check_eq sparse_euclidean.centroids "$(h5_dims "$TMP/sparse.h5" /centroids)" "2 x 4"
mpi sparse_evaluate 2 60 evaluate --input "$TMP/tfidf.p1.h5:/X" --labels "$TMP/cosine.p1.h5" --metrics ch,db --json
check_ran_ok sparse_evaluate.runs

# ---- malformed CSR: one clear line at 1-4 ranks, no output left
csr_error() {
  local name=$1 np=$2 file=$3
  shift 3
  expect_error "csr.$name.p$np" "$np" "$TMP/csr.$name.p$np/out.h5" "$@" -- \
    fit --metric cosine --input "$BAD/$file:/X" --k 2 --output "$TMP/csr.$name.p$np/out.h5"
}
for p in 1 2 3 4; do
  csr_error indptr_decreasing "$p" csr_indptr_decreasing.h5 "indptr decreases at row 3"
  csr_error index_out_of_range "$p" csr_index_out_of_range.h5 "row 3 has column index 4 outside"
  csr_error length_mismatch "$p" csr_length_mismatch.h5 "'data' has 8 values but 'indices' has 7"
done
# (every kind of damage is checked at 1-4 ranks in documents_tests, CsrInput.*)
csr_error duplicate_column 2 csr_duplicate_column.h5 "column 1 more than once"
expect_error csr.euclidean_fit 2 "$TMP/csr.euclid/out.h5" "row 4 contains NaN" -- \
  fit --input "$BAD/csr_nan.h5:/X" --k 2 --output "$TMP/csr.euclid/out.h5"

# ---- bad options and corpora
expect_error tfidf.missing_corpus 2 "$TMP/e1/out.h5" "does not exist" -- \
  tfidf --input "$TMP/nowhere.txt" --output "$TMP/e1/out.h5"
expect_error tfidf.bad_min_df 2 "$TMP/e2/out.h5" "min-df" "fraction" -- \
  tfidf --input "$CORPUS" --output "$TMP/e2/out.h5" --min-df 1.5
expect_error tfidf.nothing_left 3 "$TMP/e4/out.h5" "no terms remain" -- \
  tfidf --input "$CORPUS" --output "$TMP/e4/out.h5" --min-df 1000 --max-df 1000
expect_error fit.unknown_metric 2 "$TMP/e6/out.h5" "unknown --metric" -- \
  fit --input "$TMP/tfidf.p1.h5:/X" --k 2 --metric manhattan --output "$TMP/e6/out.h5"
expect_error top_terms.wrong_vocabulary 2 "" "vocabulary" "620 columns" -- \
  top-terms --model "$TMP/cosine.p1.h5" --vocabulary "$TMP/dir.p1.h5"

finish
