#!/usr/bin/env bash
# End-to-end test: every file argument of every command, given every kind of bad file, is
# refused with one line naming the problem, a non-zero exit on every rank, no hang and no
# output left behind (expect_error in lib.sh), at 1-4 ranks.
#
#     bash tests/cli/bad_input_matrix.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

GOOD=$BAD/good.h5
W=$TMP/work
mkdir -p "$W/adir" "$W/emptydir"

# The kinds of bad file, and what the one line must say about each.
declare -A FILE PATTERN
FILE[missing]=$W/nonexistent.h5;   PATTERN[missing]="does not exist"
FILE[directory]=$W/adir;           PATTERN[directory]="directory"
FILE[not_hdf5]=$BAD/not_hdf5.h5;   PATTERN[not_hdf5]="not an HDF5 file"
: >"$W/empty.h5"
FILE[empty]=$W/empty.h5;           PATTERN[empty]="not an HDF5 file|empty"
head -c 2000 "$GOOD" >"$W/truncated.h5"
FILE[truncated]=$W/truncated.h5;   PATTERN[truncated]="HDF5|truncated|cannot (open|read)"
KINDS=(missing directory not_hdf5 empty truncated)

# What the commands need besides the bad file: a model and its labels, a TF-IDF matrix and a
# model fitted on it.
mpi setup.model 2 60 fit --input "$GOOD:/X" --k 3 --output "$W/model.h5"
check_ran_ok setup.model
printf 'alpha beta gamma\nbeta gamma delta\nalpha delta epsilon\ngamma gamma beta\n' >"$W/corpus.txt"
mpi setup.tfidf 2 60 tfidf --input "$W/corpus.txt" --output "$W/tfidf.h5"
check_ran_ok setup.tfidf
mpi setup.text_model 2 60 fit --input "$W/tfidf.h5:/X" --k 2 --metric cosine --output "$W/text_model.h5"
check_ran_ok setup.text_model

# matrix NAME OUTPUT -- ARGS...: ARGS with @F@ (a bare file) or @F@:/path replaced by each
# kind of bad file in turn; the rank count cycles through 1-4.
CASE=0
matrix() {
  local name=$1 output=$2 kind np
  shift 3
  for kind in "${KINDS[@]}"; do
    np=$((CASE % 4 + 1))
    CASE=$((CASE + 1))
    expect_error "$name.$kind.np$np" "$np" "$output" "${PATTERN[$kind]}" -- "${@//@F@/${FILE[$kind]}}"
  done
}

OUT=$W/out/out.h5
matrix fit.input "$OUT" -- fit --input "@F@:/X" --k 3 --output "$OUT"
matrix fit.init "$OUT" -- fit --input "$GOOD:/X" --k 4 --init "@F@:/init_ok" --output "$OUT"
matrix predict.model "$OUT" -- predict --model "@F@" --input "$GOOD:/X" --output "$OUT"
matrix predict.input "$OUT" -- predict --model "$W/model.h5" --input "@F@:/X" --output "$OUT"
matrix evaluate.input "" -- evaluate --input "@F@:/X" --labels "$W/model.h5"
matrix evaluate.labels "" -- evaluate --input "$GOOD:/X" --labels "@F@"
matrix evaluate.truth "" -- evaluate --input "$GOOD:/X" --labels "$W/model.h5" --truth "@F@:/y"
matrix choose_k.input "$OUT" -- choose-k --input "@F@:/X" --k-max 3 --output "$OUT"
matrix top_terms.model "" -- top-terms --model "@F@" --vocabulary "$W/tfidf.h5"
matrix top_terms.vocabulary "" -- top-terms --model "$W/text_model.h5" --vocabulary "@F@"

# Text inputs: a corpus or stop-word file that is missing or empty, a corpus directory with no files.
expect_error tfidf.input.missing 3 "$OUT" "does not exist" -- tfidf --input "$W/nonexistent.txt" --output "$OUT"
expect_error tfidf.input.empty 2 "$OUT" "empty" -- tfidf --input "$W/empty.h5" --output "$OUT"
expect_error tfidf.input.empty_directory 4 "$OUT" "no files" -- tfidf --input "$W/emptydir" --output "$OUT"
expect_error tfidf.stop_words.missing 1 "$OUT" "stop-word" -- \
  tfidf --input "$W/corpus.txt" --stop-words "$W/nonexistent.txt" --output "$OUT"
expect_error tfidf.stop_words.directory 2 "$OUT" "stop-word" -- \
  tfidf --input "$W/corpus.txt" --stop-words "$W/adir" --output "$OUT"

# Datasets of the wrong kind where a command expects a matrix, labels or classes.
expect_error predict.model_without_centroids 3 "$OUT" "centroids|no dataset" -- \
  predict --model "$GOOD" --input "$GOOD:/X" --output "$OUT"
expect_error predict.input_enum 2 "$OUT" "enum" -- \
  predict --model "$W/model.h5" --input "$DATA/inputs/bad_bool.h5:/X" --output "$OUT"
expect_error predict.input_nan 4 "$OUT" "NaN" -- \
  predict --model "$W/model.h5" --input "$BAD/nan.h5:/X" --output "$OUT"
mpi setup.twenty_rows 2 60 generate --output "$W/twenty.h5" --samples 20 --features 3 --centers 2
check_ran_ok setup.twenty_rows
expect_error evaluate.labels_wrong_count 3 "" "label|rows" -- \
  evaluate --input "$W/twenty.h5:/X" --labels "$W/model.h5"
expect_error choose_k.input_one_dimensional 2 "$OUT" "dimension" -- \
  choose-k --input "$BAD/oned.h5:/X" --k-max 3 --output "$OUT"
expect_error choose_k.input_inf 3 "$OUT" "Inf" -- \
  choose-k --input "$BAD/inf.h5:/X" --k-max 3 --output "$OUT"
expect_error top_terms.model_not_text 4 "" "vocabulary|columns|features|terms" -- \
  top-terms --model "$W/model.h5" --vocabulary "$W/tfidf.h5"

# generate's options: counts and sizes that cannot make a data set.
expect_error generate.no_samples 2 "$OUT" "samples" -- generate --output "$OUT" --samples 0 --features 2 --centers 2
expect_error generate.no_features 3 "$OUT" "features" -- generate --output "$OUT" --samples 10 --features 0 --centers 2
expect_error generate.no_centers 1 "$OUT" "centers" -- generate --output "$OUT" --samples 10 --features 2 --centers 0
expect_error generate.negative_std 4 "$OUT" "cluster-std" -- \
  generate --output "$OUT" --samples 10 --features 2 --centers 2 --cluster-std -1
expect_error generate.dtype 2 "$OUT" "dtype" -- generate --output "$OUT" --samples 10 --features 2 --centers 2 --dtype int8

# Negative numbers where a count or a seed is expected (Boost wrapped -5 to 2^64 - 5).
expect_error fit.negative_seed 2 "$OUT" "--seed" "non-negative" -- fit --input "$GOOD:/X" --k 3 --seed -5 --output "$OUT"
expect_error choose_k.negative_seed 3 "$OUT" "--seed" "non-negative" -- \
  choose-k --input "$GOOD:/X" --k-max 3 --seed -1 --output "$OUT"
expect_error evaluate.negative_sample_size 2 "" "--sample-size" "non-negative" -- \
  evaluate --input "$GOOD:/X" --labels "$W/model.h5" --sample-size -5

finish
