#!/usr/bin/env bash
# docs/model-format.md cannot drift from the files lloyd writes: for every kind of model
# (Lloyd, with k-means|| seeding, cosine, bisecting, mini-batch, K-medians, K-medoids; also
# with --standardize, --distances, --sample-weight) the root attributes and the datasets in the
# file are exactly those the document's tables list for that algorithm (a row "with
# `--OPTION`" or "only when fitted with `--OPTION`" only when the fit was given that option).
#
#     bash tests/docs/model_format.sh /path/to/lloyd
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
lib_init "$@"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOC=$ROOT/docs/model-format.md
LIMIT=120
BLOBS=$DATA/lloyd_blobs_f64.h5

# documented KIND ALGORITHM OPTIONS: the names the document lists for a model of ALGORITHM
# fitted with OPTIONS (a string of the command line), one per line. KIND is "attribute"
# (the tables under "## Root attributes") or "dataset" (the table under "## Datasets").
documented() {
  local kind=$1 algorithm=$2 options=$3
  awk -v kind="$kind" -v algorithm="$algorithm" -v options="$options" '
    /^## / { section = $0 }
    section ~ (kind == "attribute" ? "^## Root attributes" : "^## Datasets") && /^\| `/ {
      row = $0
      gsub(/\\\|/, "\001", row)              # a table cell writes | as \|
      n = split(row, cell, "|")
      names = cell[2]
      columns = n - 2                        # cells between the outer bars
      which = (columns >= 4) ? cell[4] : "all"  # 3 columns: every model ...
      if (columns < 4 && match(cell[columns + 1], /only when fitted with `[^`]*`/))
        which = "all, " substr(cell[columns + 1], RSTART + 17, RLENGTH - 17)  # ... or with an option
      applies = (which ~ /(^| )all([ ,]|$)/)
      split(which, words, /[ ,]+/)
      for (w in words) if (words[w] == algorithm) applies = 1
      # "with `--OPTION ...`": only when the fit was given it
      if (match(which, /with `[^`]*`/)) {
        condition = substr(which, RSTART + 6, RLENGTH - 7)
        gsub(/\001/, "|", condition)
        sub(/^fit /, "", condition)
        if (index(options, condition) == 0) applies = 0
      }
      if (!applies) next
      while (match(names, /`[^`]*`/)) {
        name = substr(names, RSTART + 1, RLENGTH - 2)
        names = substr(names, RSTART + RLENGTH)
        sub(/\/…$/, "", name)                 # /tree/… : the group
        if (name !~ /^\/tree\//) print name   # the group has a table of its own
      }
    }' "$DOC" | sort -u
}

# present KIND MODEL: the root attributes, or the datasets, of MODEL.
present() {
  if [ "$1" = attribute ]; then
    h5dump -H -A "$2" | sed -n 's/^   ATTRIBUTE "\([^"]*\)".*/\1/p' | sort -u
  else
    # The datasets, but the groups the table names as a whole (/tree/…, /timings) for theirs.
    h5ls -r "$2" | awk '$2 == "Dataset" || $1 == "/tree" || $1 == "/timings" {print $1}' |
      grep -Ev '^/(tree|timings)/' | sort -u
  fi
}

check_model() {  # check_model NAME ALGORITHM "FIT OPTIONS" [DATA]
  local name=$1 algorithm=$2 options=$3 data=${4:-$BLOBS} kind missing extra
  # shellcheck disable=SC2086
  mpi "fit.$name" 2 "$LIMIT" fit --input "$data:/X" --k 4 --output "$TMP/$name.h5" $options
  check_ran_ok "fit.$name"
  for kind in attribute dataset; do
    missing=$(comm -23 <(documented $kind "$algorithm" "$options") <(present $kind "$TMP/$name.h5") | tr '\n' ' ')
    extra=$(comm -13 <(documented $kind "$algorithm" "$options") <(present $kind "$TMP/$name.h5") | tr '\n' ' ')
    if [ -z "$missing$extra" ]; then pass "$name.${kind}s_as_documented"
    else fail "$name.${kind}s_as_documented" "documented but absent: [$missing]; present but undocumented: [$extra]"; fi
  done
}

check_model lloyd lloyd ""
check_model kmeans_parallel lloyd "--init k-means||"
check_model cosine lloyd "--metric cosine"
check_model bisecting bisecting "--mode bisecting"
check_model minibatch minibatch "--mode minibatch"
check_model kmedians kmedians "--mode kmedians"
check_model kmedoids kmedoids "--mode kmedoids"
# The rows that apply only with an option.
check_model standardized lloyd "--standardize --distances"
check_model weighted lloyd "--sample-weight $DATA/weights_int.h5:/w" "$DATA/weights_int.h5"
check_model weighted_bisecting bisecting "--mode bisecting --sample-weight $DATA/weights_int.h5:/w --standardize" "$DATA/weights_int.h5"
check_model minibatch_distances minibatch "--mode minibatch --distances --sample-weight $DATA/weights_int.h5:/w" "$DATA/weights_int.h5"
check_model weighted_kmedoids kmedoids "--mode kmedoids --medoid-method pam --sample 150 --sample-weight $DATA/weights_int.h5:/w" "$DATA/weights_int.h5"

finish
