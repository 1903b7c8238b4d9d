#!/usr/bin/env bash
# The README cannot drift from the program: every fenced `sh` block of README.md runs, in
# order, in a scratch directory holding small stand-ins for the files it names; the
# `/usr/bin/python3 scripts/...` commands quoted inline and the `python` blocks run too; and
# every `json` block must have exactly the keys that its command prints now.
#
#     bash tests/docs/readme_commands.sh /path/to/lloyd
#
# What is adapted, and only this: `mpirun -n N` runs on at most 2 ranks through the test
# launcher; `build/lloyd` is the lloyd under test (and `import lloyd` the package built beside
# it); `scripts/` and `data/` are the repository's;
# blobs.h5 (made by the README's `generate` line), big.h5, new.h5, data.h5 (3000 rows),
# corpus.txt, new.txt and their TF-IDF corpus.h5 and cosine model topics.h5, pixels.npy,
# survey.csv and data.csv exist beforehand (small); what a block writes with --output is removed before it
# runs, as for a reader who runs that example alone. Not run here: `scripts/test.sh` (that is the test
# suite; CI runs it), `scripts/demo.sh` unless the lloyd under test is build/lloyd (it builds
# build/ first), `sbatch` lines (tests/slurm/test_jobs.sh submits every job script
# to a real Slurm), the `pip install` block (tests/python/pip_install.sh runs it) and the
# gallery's `examples/NAME/run.py` lines (ctest examples.NAME runs each with --check).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
lib_init "$@"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
README=$ROOT/README.md
LIMIT=300
WORK=$TMP/work
mkdir -p "$WORK"

# ---------------------------------------------------------------- the README's pieces

# Blocks are written to $TMP/blocks/NNN.sh (NNN: the README line of the fence), the json
# examples to $TMP/json/NNN.json.
mkdir -p "$TMP/blocks" "$TMP/json"
awk -v dir="$TMP" '
  /^```sh$/   { kind = "blocks"; file = sprintf("%s/blocks/%04d.sh", dir, NR); next }
  /^```json$/ { kind = "json"; file = sprintf("%s/json/%04d.json", dir, NR); next }
  /^```python$/ { kind = "python"; file = sprintf("%s/blocks/%04d.py", dir, NR); next }
  /^```/      { kind = ""; next }
  kind != ""  { print > file }
' "$README"
# Inline commands: `/usr/bin/python3 scripts/...` spans, each a one-line block at its line.
grep -n -o '`/usr/bin/python3 scripts/[^`]*`' "$README" | while IFS=: read -r line span; do
  printf '%s\n' "${span//\`/}" >"$TMP/blocks/$(printf '%04d' "$line")i.sh"
done

# ---------------------------------------------------------------- the stand-ins

# The README's data set (its `lloyd generate` line) for the commands whose output the README
# prints (the block before a json example); the same blobs with 3000 rows for the others, which
# then run in seconds. blobs.h5, big.h5, new.h5 and data.h5 are put back before every block.
generate_args=$(grep -A1 'build/lloyd generate --output blobs.h5' "$README" | tr -d '\\\n' | sed 's/.*generate --output blobs.h5//')
# shellcheck disable=SC2086
mpi setup.readme_blobs 2 "$LIMIT" generate --output "$TMP/readme_blobs.h5" $generate_args
check_ran_ok setup.readme_blobs
# shellcheck disable=SC2086
mpi setup.small_blobs 2 "$LIMIT" generate --output "$TMP/small_blobs.h5" $(sed -E 's/--samples [0-9]+/--samples 3000/' <<<"$generate_args")
check_ran_ok setup.small_blobs
# Integer sample weights 0..3 as /w beside /X (the README's --sample-weight data.h5:/w),
# written with h5import (hdf5-tools), which adds a dataset to an existing file.
small_rows=$(h5ls "$TMP/small_blobs.h5/X" | sed -n 's/.*Dataset {\([0-9]*\),.*/\1/p')
awk -v n="$small_rows" 'BEGIN { for (i = 1; i <= n; i++) print i % 4 }' >"$TMP/w.txt"
printf 'PATH w\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES %s\nOUTPUT-CLASS IN\nOUTPUT-SIZE 32\n' "$small_rows" >"$TMP/w.conf"
run setup.weights "$LIMIT" h5import "$TMP/w.txt" -c "$TMP/w.conf" -o "$TMP/small_blobs.h5"
check_ran_ok setup.weights
printed_examples=$(for example in "$TMP"/json/*.json; do
  [ -e "$example" ] || continue
  line=$(basename "$example" .json)
  ls "$TMP"/blocks/*.sh | sed 's#.*/##; s/[^0-9].*//' | awk -v l="$line" '$1 < l' | tail -n 1
done)
stand_ins() {  # stand_ins LINE
  local name
  for name in blobs big new data; do ln -f "$TMP/small_blobs.h5" "$WORK/$name.h5"; done
  if grep -qx "$1" <<<"$printed_examples"; then ln -f "$TMP/readme_blobs.h5" "$WORK/blobs.h5"; fi
}
cp "$ROOT/tests/data/tfidf_corpus.txt" "$WORK/corpus.txt"
cp "$ROOT/tests/data/tfidf_new.txt" "$WORK/new.txt"
# Files of the kinds the Input formats section reads: a uint8 image-like .npy (300 x 12, C
# order) and CSV tables with a header (survey.csv) and without one (data.csv).
npy_header="{'descr': '|u1', 'fortran_order': False, 'shape': (300, 12), }"
while (( (10 + ${#npy_header} + 1) % 64 != 0 )); do npy_header+=" "; done
{ printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#npy_header} + 1) % 256 )))\\x$(printf %02x $(( (${#npy_header} + 1) / 256 )))";
  printf '%s\n' "$npy_header"
  LC_ALL=C awk 'BEGIN { for (i = 0; i < 3600; i++) printf "%c", 1 + (i * 7919 + int(i / 12) * 104729) % 255 }'
} >"$WORK/pixels.npy"
awk 'BEGIN { print "id,height,weight,age"
             for (i = 0; i < 300; i++) printf "%d,%.1f,%.1f,%d\n", i, 150 + (i * 37) % 45, 50 + (i * 53) % 40, 20 + (i * 11) % 50 }' >"$WORK/survey.csv"
tail -n +2 "$WORK/survey.csv" | cut -d, -f2- >"$WORK/data.csv"
# The documents of the README's Documents section, for the commands before it that use them.
mpi setup.corpus 2 "$LIMIT" tfidf --input "$WORK/corpus.txt" --output "$WORK/corpus.h5"
check_ran_ok setup.corpus
mpi setup.topics 2 "$LIMIT" fit --metric cosine --input "$WORK/corpus.h5:/X" --k 5 --output "$WORK/topics.h5"
check_ran_ok setup.topics

# adapt FILE: the block as this test runs it.
adapt() {
  sed -E \
    -e 's#^([[:space:]]*)mpirun -n [0-9]+ #\1$LLOYD_MPIRUN -n 2 #' \
    -e 's#(^|[[:space:]])build/lloyd #\1"$LLOYD" #g' \
    -e 's#(^|[[:space:]])scripts/#\1"$ROOT"/scripts/#g' \
    -e 's#(^|[[:space:]])data/#\1"$ROOT"/data/#g' \
    "$1"
}

# ---------------------------------------------------------------- run every block in order

mkdir -p "$TMP/printed"   # LINE.jsonl: the JSON lines the block at that README line printed
for block in "$TMP"/blocks/*; do
  name=readme.line$(basename "$block" | sed -E 's/^0*//; s/\..*$//')
  case $block in
    *.py)
      # `import lloyd`: the package built beside the lloyd under test (build/python), absent
      # from a sanitizer build (a Python interpreter does not load its runtime).
      if grep -q '^import lloyd\|^from lloyd' "$block" && [ ! -d "$(dirname "$LLOYD")/python/lloyd" ]; then
        echo "SKIP $name: no Python package beside $LLOYD"; continue
      fi
      run "$name" "$LIMIT" env PYTHONPATH="$(dirname "$LLOYD")/python" \
        bash -c 'cd "$1" && /usr/bin/python3 "$2"' _ "$WORK" "$block"
      check_ran_ok "$name.python"
      continue ;;
  esac
  # The gallery's examples run in the tests with --check (ctest examples.NAME).
  if ! grep -v '^/usr/bin/python3 examples/[a-z_]*/run.py$' "$block" | grep -q '[^[:space:]]'; then
    echo "SKIP $name: gallery example (ctest examples.* runs it with --check)"; continue
  fi
  if grep -q 'pip install' "$block"; then echo "SKIP $name: pip install (tests/python/pip_install.sh installs the package so)"; continue; fi
  if grep -q '^scripts/test.sh' "$block"; then echo "SKIP $name: scripts/test.sh is the suite itself (CI runs it)"; continue; fi
  # scripts/demo.sh builds build/ (Release) first: run it only when that is the lloyd under
  # test, where the build is already done; a sanitizer build would be rebuilt as Release.
  if grep -q '^scripts/demo.sh' "$block" && [ "$(dirname "$LLOYD")" != "$ROOT/build" ]; then
    echo "SKIP $name: scripts/demo.sh builds build/, not $(dirname "$LLOYD")"; continue
  fi
  grep -v '^[[:space:]]*sbatch\|^[[:space:]]*--export' "$block" | grep -q '[^[:space:]]' || {
    echo "SKIP $name: sbatch (tests/slurm/test_jobs.sh submits the job scripts)"; continue; }
  line=$(basename "$block" | sed 's/[^0-9].*//')
  stand_ins "$line"
  adapt "$block" | grep -v '^[[:space:]]*sbatch\|^[[:space:]]*--export' >"$TMP/$name.run.sh"
  # Each example stands alone for its reader: what it writes (--output) is not there yet.
  for output in $(grep -o -- '--output [^ ]*' "$TMP/$name.run.sh" | sed 's/^--output //; s/:\/.*//'); do
    rm -f -- "$WORK/$output"
  done
  run "$name" "$LIMIT" env LLOYD="$LLOYD" ROOT="$ROOT" LLOYD_MPIRUN="$LLOYD_MPIRUN" LLOYD_BUILD="$(dirname "$LLOYD")" \
    LLOYD_CLI_TEST_TAG="$TAG" bash -c 'cd "$1" && set -e && source "$2"' _ "$WORK" "$TMP/$name.run.sh"
  if timed_out; then kill_strays; fi
  check_ran_ok "$name"
  grep -a '^{"command"' "$OUT_FILE" >"$TMP/printed/$line.jsonl" || true
done

# ---------------------------------------------------------------- the JSON examples

keys() { grep -o '"[A-Za-z_]*":' | tr -d '":' | sort -u; }
for example in "$TMP"/json/*.json; do
  [ -e "$example" ] || continue
  name=readme.json.line$(basename "$example" .json | sed -E 's/^0*//')
  command=$(json_get "$(cat "$example")" command)
  line=$(basename "$example" .json)
  printed=$(for out in $(ls "$TMP"/printed/ | sort -n | awk -v l="${line#0}" '$1 + 0 < l + 0' | tail -n 1); do
    grep -a "^{\"command\":\"$command\"" "$TMP/printed/$out"; done | tail -n 1)
  if [ -z "$printed" ]; then
    fail "$name" "the README block before it printed no '$command' JSON line to compare with"
    continue
  fi
  missing=$(comm -23 <(keys <"$example") <(printf '%s\n' "$printed" | keys) | tr '\n' ' ')
  extra=$(comm -13 <(keys <"$example") <(printf '%s\n' "$printed" | keys) | tr '\n' ' ')
  if [ -z "$missing$extra" ]; then pass "$name.same_keys"
  else fail "$name.same_keys" "README shows keys lloyd does not print: [${missing}]; lloyd prints keys the README lacks: [${extra}]"; fi
  # The results, not the timings or the machine: every top-level value but these must match
  # (memory_estimate_mb is per rank: it depends on the ranks, like peak_rss_mb).
  volatile='^"(seconds|peak_rss_mb|n_ranks|threads|simd|bounds_mb|output)":'
  values() { sed 's/"phases\(_min\)\?":{[^}]*}//g; s/"memory_estimate_mb":{[^{}]*{[^{}]*}[^{}]*}//' | grep -o '"[A-Za-z_]*":[^,{}]*' | grep -Ev "$volatile" | sort; }
  differ=$(diff <(values <"$example") <(printf '%s\n' "$printed" | values) | grep '^[<>]' | tr '\n' ' ')
  if [ -z "$differ" ]; then pass "$name.same_results"
  else fail "$name.same_results" "README (<) and lloyd now (>) differ: $differ"; fi
done

finish
