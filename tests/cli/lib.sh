# Shared helpers for the end-to-end CLI tests in tests/cli/*.sh (sourced, not run).
#
# A test script does:
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     lib_init "$@"            # sets LLOYD, LLOYD_MPIRUN, DATA, BAD, TMP; trap removes TMP
#     ...checks...
#     finish                   # prints the summary, exits 1 if any check failed
#
# Every check prints exactly one line, "PASS <name>" or "FAIL <name>: <why>".

set -u

# ---------------------------------------------------------------- setup and teardown

lib_init() {
  if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: bash $0 /path/to/lloyd" >&2
    exit 2
  fi
  LLOYD=$1
  if [ ! -x "$LLOYD" ]; then
    echo "FAIL setup: '$LLOYD' is not an executable" >&2
    exit 2
  fi
  # Absolute, so that commands run from another directory still find it.
  case $LLOYD in /*) ;; *) LLOYD="$PWD/$LLOYD" ;; esac

  LLOYD_MPIRUN=${LLOYD_MPIRUN:-mpirun --oversubscribe}
  DATA=${LLOYD_TEST_DATA:-tests/data}
  BAD=$DATA/bad

  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  # The tests run up to 4 ranks, often on fewer cores. CTest passes the bare launcher
  # (MPIEXEC_PREFLAGS is usually empty), so let Open MPI oversubscribe even without the
  # --oversubscribe flag; other MPI implementations ignore this variable.
  export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
  # mpirun outside Slurm: no waiting for a munge daemon that is not there (scripts/env.sh).
  export PMIX_MCA_psec=${PMIX_MCA_psec:-^munge}
  export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}  # no probe for absent network hardware (scripts/env.sh)

  TMP=$(mktemp -d "${TMPDIR:-/tmp}/lloyd-cli.XXXXXX") || { echo "FAIL setup: mktemp" >&2; exit 2; }
  # Every launcher we start carries this tag in its environment (and so do the ranks it
  # starts), so that kill_strays can find them after a hang. The test shell itself lacks it.
  TAG=$TMP
  trap 'kill_strays; rm -rf -- "$TMP"' EXIT
  trap 'exit 130' INT TERM

  N_PASS=0
  N_FAIL=0
  FAILED_NAMES=()
  SCRIPT_START=$SECONDS
  echo "# lloyd=$LLOYD"
  echo "# launcher=$LLOYD_MPIRUN  data=$DATA  tmp=$TMP"
}

finish() {
  local total=$((N_PASS + N_FAIL))
  echo "# $N_PASS/$total checks passed in $((SECONDS - SCRIPT_START)) s"
  if [ "$N_FAIL" -ne 0 ]; then
    echo "# failed: ${FAILED_NAMES[*]}"
    exit 1
  fi
  exit 0
}

# ---------------------------------------------------------------- bookkeeping

pass() { N_PASS=$((N_PASS + 1)); echo "PASS $1"; }

# fail NAME WHY [FILE...]: the files (e.g. captured stderr) are shown indented, to debug.
fail() {
  local name=$1 why=$2 f
  shift 2
  N_FAIL=$((N_FAIL + 1))
  FAILED_NAMES+=("$name")
  echo "FAIL $name: $why"
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "    --- $(basename "$f") (first 20 lines)"
    head -n 20 "$f" | sed 's/^/    | /'
  done
}

# check NAME WHY COMMAND...: PASS if COMMAND succeeds, else FAIL with WHY.
check() {
  local name=$1 why=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# check_eq NAME ACTUAL EXPECTED
check_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$(echo $2)', expected '$3'"; fi
}

# ---------------------------------------------------------------- running things

# run NAME TIMEOUT_S COMMAND...: runs COMMAND with a time limit; stdout goes to
# $TMP/NAME.out, stderr to $TMP/NAME.err, the exit status to RC (124 or 137 = timed out).
run() {
  local name=$1 limit=$2
  shift 2
  OUT_FILE=$TMP/$name.out
  ERR_FILE=$TMP/$name.err
  timeout -k 10 "$limit" "$@" >"$OUT_FILE" 2>"$ERR_FILE" </dev/null
  RC=$?
}

# mpi NAME NRANKS TIMEOUT_S LLOYD-ARGS...: run lloyd at NRANKS ranks.
# LLOYD_MPIRUN is split into words on purpose (it holds the launcher and its flags).
# Open MPI's launcher waits odls_base_sigkill_timeout (1 s) between SIGTERM and SIGKILL when
# it ends a job, and it ends one after every non-zero exit, even when every rank has already
# exited: 1-2 s of idle wall time per failing command, most of the time of the tests of bad
# input. The commands run here are never signalled by the test, so they go without the grace;
# the tests that signal a running fit start it themselves, with Open MPI's default.
mpi() {
  local name=$1 np=$2 limit=$3
  shift 3
  # shellcheck disable=SC2086
  run "$name" "$limit" env "LLOYD_CLI_TEST_TAG=$TAG" OMPI_MCA_odls_base_sigkill_timeout=0 \
    $LLOYD_MPIRUN -n "$np" "$LLOYD" "$@"
  # A launcher killed on timeout can leave its ranks behind (they run in their own
  # process groups); end them so that they do not spin on the CPU during later checks.
  if timed_out; then kill_strays; fi
}

# kill_strays: SIGKILL the processes (by pid) whose environment holds our LLOYD_CLI_TEST_TAG,
# i.e. launchers and ranks started by mpi() that are still alive.
kill_strays() {
  [ -n "${TAG:-}" ] || return 0
  local environ pid entry
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    while IFS= read -r -d '' entry; do
      if [ "$entry" = "LLOYD_CLI_TEST_TAG=$TAG" ]; then
        kill -KILL "$pid" 2>/dev/null
        break
      fi
    done 2>/dev/null <"$environ"
  done
  return 0
}

timed_out() { [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; }

# Fail-or-pass a "command ran and exited 0" check for the last run.
check_ran_ok() {
  local name=$1
  if timed_out; then fail "$name" "hang (no exit within the time limit)" "$ERR_FILE"
  elif [ "$RC" -ne 0 ]; then fail "$name" "exit status $RC, expected 0" "$ERR_FILE"
  else pass "$name"; fi
}

# lloyd_lines FILE: the lines of FILE written by lloyd itself (they start with "lloyd"),
# leaving out what mpirun adds (banners, boxed messages, "Primary job ...").
lloyd_lines() { grep -a '^lloyd' "$1" || true; }

# partial_files DIR: any leftover "<output>.partial-<pid>" files in DIR (or the space an
# output reserves next to itself while it is written, "<output>.reserve-<pid>").
partial_files() { find "$1" -maxdepth 1 \( -name '*.partial-*' -o -name '*.reserve-*' \) 2>/dev/null; }

# ---------------------------------------------------------------- HDF5 inspection

# h5_dims FILE DSET: the dimensions of a dataset as "n" or "n x d" ("" if absent).
h5_dims() {
  h5ls "$1/$2" 2>/dev/null | sed -n 's/.*Dataset {\([^}]*\)}.*/\1/p' | sed 's/, / x /g; s#/[^ ]*##g'
}

# h5_type FILE DSET: the DATATYPE line of h5dump -H, e.g. H5T_STD_I32LE.
h5_type() {
  h5dump -H -d "$2" "$1" 2>/dev/null | sed -n 's/^ *DATATYPE *\([^ ]*\).*/\1/p' | head -n 1
}

# h5_attr FILE OBJ/ATTR: the (first) value of a scalar or 1-element attribute, e.g.
# h5_attr model.h5 /n_iter  or  h5_attr fixture.h5 /expected/n_iter.
h5_attr() {
  h5dump -a "$2" "$1" 2>/dev/null | sed -n '/DATA {/,/}/p' | sed -n 's/^ *([0-9, ]*): *//p' |
    head -n 1 | tr -d ' ,"'
}

# check_h5_identical NAME FILE1 FILE2 [OBJ1 OBJ2]: h5diff (data and attributes) finds no
# difference; a model's /timings, which differ from run to run, are left out. h5diff 1.10
# exits 0 even when objects are "not comparable" (other shape or type class), so -c lists
# those and any such line counts as a difference.
check_h5_identical() {
  local name=$1
  shift
  run "h5diff.$name" 120 h5diff -c --exclude-path /timings "$@"
  if [ "$RC" -eq 0 ] && ! grep -qi 'not comparable' "$OUT_FILE" "$ERR_FILE"; then
    pass "$name"
  else
    fail "$name" "h5diff $* : exit status $RC$(grep -qi 'not comparable' "$OUT_FILE" "$ERR_FILE" && echo ', objects not comparable')" \
      "$OUT_FILE" "$ERR_FILE"
  fi
}

# h5_has_attr FILE OBJ/ATTR: succeeds when the attribute exists.
h5_has_attr() { h5dump -a "$2" "$1" >/dev/null 2>&1; }

# h5_is_model FILE: a readable HDF5 file with a 2-D /centroids dataset.
h5_is_model() { [ -n "$(h5_dims "$1" /centroids)" ] && [[ "$(h5_dims "$1" /centroids)" == *x* ]]; }

# json_get JSON KEY: the value of a top-level key in a one-line JSON object ("" if absent).
json_get() {
  printf '%s\n' "$1" | grep -o "\"$2\" *: *[^,}]*" | head -n 1 | sed 's/^[^:]*: *//; s/"//g'
}

# ---------------------------------------------------------------- expected failures

# expect_error NAME NRANKS OUTPUT PATTERN... -- LLOYD-ARGS...
#
# Runs lloyd at NRANKS ranks (time limit ERROR_TIMEOUT, default 60 s) and checks, as one
# PASS/FAIL line, that it
#   - exits non-zero, and not by timing out (a hang),
#   - leaves OUTPUT as it found it: absent if it was absent, byte-identical if it existed
#     (OUTPUT may be "" when the command writes nothing),
#   - leaves no *.partial-* file next to OUTPUT,
#   - prints on stderr exactly one line starting with "lloyd", matching every PATTERN
#     (extended regular expressions, case-sensitive; the file names in LLOYD-ARGS are
#     removed from the line first, so a keyword cannot be matched by a path).
expect_error() {
  local name=$1 np=$2 output=$3
  shift 3
  local patterns=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  [ $# -gt 0 ] && shift  # the "--"
  local problems=() snapshot="" outdir="" p lines count leftovers
  if [ -n "$output" ]; then
    outdir=$(dirname "$output")
    mkdir -p "$outdir"
    if [ -e "$output" ]; then snapshot=$TMP/$name.before; cp -p "$output" "$snapshot"; fi
  fi

  mpi "$name" "$np" "${ERROR_TIMEOUT:-60}" "$@"

  if timed_out; then problems+=("hang: no exit within ${ERROR_TIMEOUT:-60} s (status $RC)")
  elif [ "$RC" -eq 0 ]; then problems+=("exit status 0, expected non-zero"); fi
  if [ -n "$output" ]; then
    if [ -n "$snapshot" ]; then
      if [ ! -e "$output" ]; then problems+=("pre-existing $output was removed")
      elif ! cmp -s "$snapshot" "$output"; then problems+=("pre-existing $output was modified"); fi
    elif [ -e "$output" ]; then
      problems+=("output file $output was left behind")
    fi
    leftovers=$(partial_files "$outdir")
    [ -n "$leftovers" ] && problems+=("stray partial file(s): $(echo $leftovers)")
  fi
  lines=$(lloyd_lines "$ERR_FILE")
  count=$(printf '%s' "$lines" | grep -c '^lloyd')
  if [ "$count" -ne 1 ]; then
    problems+=("$count stderr lines start with 'lloyd', expected exactly 1")
  fi
  if [ "$count" -ge 1 ]; then
    # Match the keywords against the message without the file names given on the command
    # line, so that e.g. "string" is not found in ".../string.h5" or "exists" in ".../exists/".
    local message arg file
    message=$(printf '%s\n' "$lines" | head -n 1)
    for arg in "$@"; do
      case $arg in
        */* | *.h5*) file=${arg%%:/*}; message=${message//"$file"/} ;;
      esac
    done
    for p in "${patterns[@]}"; do
      printf '%s\n' "$message" | grep -Eq -e "$p" ||
        problems+=("message lacks /$p/ (file names left out): $(printf '%s' "$lines" | head -n 1)")
    done
  fi

  if [ ${#problems[@]} -eq 0 ]; then
    pass "$name ($(printf '%s' "$lines" | head -n 1))"
  else
    local IFS=';'
    fail "$name" "${problems[*]}" "$ERR_FILE"
  fi
}
