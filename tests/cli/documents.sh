#!/usr/bin/env bash
# End-to-end test of the document pipeline: lloyd tfidf, fit --metric cosine, predict,
# top-terms, new documents (tfidf --vocabulary), CSR input everywhere, and the errors of
# malformed CSR files and bad options.
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

# ---- a directory with binary files, globs and a symbolic link (named by its own name)
mkdir -p "$TMP/mixed/sub" "$TMP/elsewhere"
echo "the cat sat on the mat" >"$TMP/mixed/a.txt"
echo "a dog in the fog" >"$TMP/mixed/sub/b.txt"
echo "notes about cats" >"$TMP/mixed/sub/c.md"
printf 'PNG\0\001\002 binary' >"$TMP/mixed/image.txt"
printf 'caf\351 latin-1\n' >"$TMP/mixed/sub/latin1.txt"
echo "linked text about mats" >"$TMP/elsewhere/target.txt"
ln -s "$TMP/elsewhere/target.txt" "$TMP/mixed/link.txt"
for p in 1 3; do
  mpi "mixed.p$p" "$p" 60 tfidf --input "$TMP/mixed" --output "$TMP/mixed.p$p.h5" --json
  check_ran_ok "mixed.p$p.runs"
  check_eq "mixed.p$p.skipped_once" "$(grep -c '^lloyd tfidf: skipped 2 binary files' "$ERR_FILE")" 1
done
check_eq mixed.json_skipped "$(json_get "$(cat "$TMP/mixed.p1.out")" skipped_binary_files)" 2
check "mixed.names" "document_names is not a.txt, link.txt, sub/b.txt, sub/c.md" \
  bash -c "h5dump -d /document_names '$TMP/mixed.p1.h5' | grep -q '\"a.txt.*\", \"link.txt.*\", \"sub/b.txt.*\", \"sub/c.md.*\"'"
check_h5_identical mixed.p1_vs_p3.identical "$TMP/mixed.p1.h5" "$TMP/mixed.p3.h5"
mpi globs 2 60 tfidf --input "$TMP/mixed" --output "$TMP/globs.h5" --include '*.txt' --exclude 'link*' --exclude 'image.txt'
check_ran_ok globs.runs
check_eq globs.documents "$(h5_attr "$TMP/globs.h5" /n_documents)" 2
check_eq globs.skipped "$(grep -c '^lloyd tfidf: skipped 1 binary file ' "$ERR_FILE")" 1

# ---- scikit-learn's options (each compared with scikit-learn in documents_tests): the same
# file at 1 and 3 ranks, the options stored as attributes
OPTIONS=(--analyzer char_wb --ngram 2,4 --norm l1 --binary --strip-accents unicode --no-smooth-idf --sublinear-tf)
for p in 1 3; do
  mpi "options.p$p" "$p" 60 tfidf --input "$DATA/tfidf_multilingual.txt" --output "$TMP/options.p$p.h5" "${OPTIONS[@]}"
  check_ran_ok "options.p$p.runs"
done
check_h5_identical options.p1_vs_p3.identical "$TMP/options.p1.h5" "$TMP/options.p3.h5"
check_eq options.attributes "$(for a in analyzer ngram_min ngram_max norm binary strip_accents smooth_idf sublinear_tf use_idf lowercase; do h5_attr "$TMP/options.p1.h5" "/$a"; done | paste -sd' ')" \
  "char_wb 2 4 l1 1 unicode 0 1 1 1"

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

# ---- new documents: tfidf --vocabulary (scikit-learn's transform) -> predict. The training
# corpus transformed gives the fit's own matrix and so the model's own labels; the new
# documents' file is the same at 1-4 ranks.
for p in 1 2 3 4; do
  mpi "transform.p$p" "$p" 60 tfidf --input "$DATA/tfidf_new.txt" --vocabulary "$TMP/tfidf.p1.h5" \
    --output "$TMP/new.p$p.h5" --json
  check_ran_ok "transform.p$p.runs"
done
for p in 2 3 4; do check_h5_identical "transform.p1_vs_p$p.identical" "$TMP/new.p1.h5" "$TMP/new.p$p.h5"; done
check_eq transform.documents "$(json_get "$(cat "$TMP/transform.p1.out")" n_documents)" 23
check_eq transform.columns "$(h5_attr "$TMP/new.p1.h5" /n_terms)" 620
check_eq transform.options_kept "$(h5_attr "$TMP/new.p1.h5" /sublinear_tf) $(h5_attr "$TMP/new.p1.h5" /norm)" "1 l2"
mpi refit 3 60 tfidf --input "$CORPUS" --vocabulary "$TMP/tfidf.p1.h5" --output "$TMP/refit.h5"
check_ran_ok refit.runs
check_h5_identical refit.same_matrix "$TMP/tfidf.p1.h5" "$TMP/refit.h5" /X /X
mpi predict_new 3 60 predict --model "$TMP/cosine.p1.h5" --input "$TMP/new.p1.h5:/X" --output "$TMP/new_labels.h5"
check_ran_ok predict_new.runs
check_eq predict_new.labels "$(h5_dims "$TMP/new_labels.h5" /labels)" 23
mpi predict_refit 2 60 predict --model "$TMP/cosine.p1.h5" --input "$TMP/refit.h5:/X" --output "$TMP/refit_labels.h5"
check_ran_ok predict_refit.runs
check_h5_identical predict_refit.model_labels "$TMP/cosine.p1.h5" "$TMP/refit_labels.h5" /labels /labels

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
expect_error tfidf.fitted_option_with_vocabulary 2 "$TMP/e7/out.h5" "--min-df does not apply with --vocabulary" -- \
  tfidf --input "$CORPUS" --vocabulary "$TMP/tfidf.p1.h5" --output "$TMP/e7/out.h5" --min-df 2
cp "$TMP/tfidf.p1.h5" "$TMP/vocabulary_copy.h5"
expect_error tfidf.output_is_vocabulary 2 "$TMP/vocabulary_copy.h5" "also an input" -- \
  tfidf --input "$CORPUS" --vocabulary "$TMP/vocabulary_copy.h5" --output "$TMP/vocabulary_copy.h5" --force
expect_error tfidf.not_a_vocabulary 3 "$TMP/e8/out.h5" "no /vocabulary and /idf" -- \
  tfidf --input "$CORPUS" --vocabulary "$DATA/lloyd_blobs_f64.h5" --output "$TMP/e8/out.h5"
expect_error tfidf.bad_ngram 2 "$TMP/e9/out.h5" "--ngram '3,2'" -- \
  tfidf --input "$CORPUS" --output "$TMP/e9/out.h5" --ngram 3,2
expect_error tfidf.bad_norm 2 "$TMP/e10/out.h5" "--norm 'l3'" -- \
  tfidf --input "$CORPUS" --output "$TMP/e10/out.h5" --norm l3
expect_error tfidf.stop_words_with_char 2 "$TMP/e11/out.h5" "--stop-words applies to --analyzer word only" -- \
  tfidf --input "$CORPUS" --output "$TMP/e11/out.h5" --analyzer char --stop-words english
expect_error tfidf.nothing_included 2 "$TMP/e12/out.h5" "passes --include/--exclude" -- \
  tfidf --input "$TMP/mixed" --output "$TMP/e12/out.h5" --include '*.pdf'
expect_error top_terms.wrong_vocabulary 2 "" "vocabulary" "620 columns" -- \
  top-terms --model "$TMP/cosine.p1.h5" --vocabulary "$TMP/dir.p1.h5"

finish
