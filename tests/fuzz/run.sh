#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time from its committed seed corpus, after
# replaying the inputs that once crashed it (tests/fuzz/regressions/<target>/).
#     tests/fuzz/run.sh BUILD-DIR SECONDS-PER-TARGET
# With LLOYD_FUZZ_RAW=1 the file readers take raw HDF5 bytes instead of descriptions of files
# (h5_description.hpp), seeded with the fixtures of tests/data/bad: this explores HDF5's own
# parser too, which fails on damaged files by itself, so it is not part of the test run.
# New interesting inputs go to BUILD-DIR/fuzz-corpus/<target> (not into the repository); a
# crash leaves its input in BUILD-DIR/fuzz-artifacts/ and fails the run: minimise it
# (-minimize_crash=1), commit it under tests/fuzz/regressions/<target>/, and fix the reader.
set -euo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/env.sh"

# Leaks are detected (libFuzzer checks after inputs that allocate more than they free), with
# the suppressions of the sanitizer stage; whole allocation stacks, to match HDF5's own
# losses by function. A damaged header can make HDF5 ask malloc for petabytes: as without
# ASan, malloc then returns NULL, which HDF5 reports as an error (allocator_may_return_null;
# -malloc_limit_mb above any real size). lloyd's own allocations still fail loudly: operator
# new reports its failure, and memory really used is bounded by -rss_limit_mb.
# intercept_tls_get_addr=0: clang 14's runtime has the dynamic-TLS misreading that scripts/test.sh explains.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:allocator_may_return_null=1:intercept_tls_get_addr=0"
# (Not at exit: MPI_Finalize has unloaded its plug-ins by then, see src/comm.cpp.)
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0:leak_check_at_exit=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TMPDIR=${TMPDIR:-/tmp}
# Open MPI's own handlers of SIGABRT/SIGSEGV would print a stack and exit before libFuzzer can
# save the input that crashed.
export OMPI_MCA_opal_signal=""

status=0
raw=${LLOYD_FUZZ_RAW:-0}
export LLOYD_FUZZ_RAW=$raw
for target in csr model checkpoint tokenizer kernels inputs; do
  binary=$build/tests/fuzz/fuzz_$target
  corpus=$build/fuzz-corpus/$target
  seeds=$here/corpus/$target
  if [ "$raw" = 1 ] && [ "$target" != tokenizer ] && [ "$target" != kernels ] && [ "$target" != inputs ]; then
    corpus=$build/fuzz-corpus-raw/$target
    seeds=$build/fuzz-seeds-raw/$target
    mkdir -p "$seeds"
    case $target in
      csr) cp "$root"/tests/data/bad/csr_*.h5 "$root/tests/data/bad/good.h5" "$seeds/" ;;
      *) cp "$root"/tests/data/bad/model_*.h5 "$seeds/" ;;
    esac
  fi
  artifacts=$build/fuzz-artifacts
  mkdir -p "$corpus" "$artifacts"
  regressions=()
  if [ -d "$here/regressions/$target" ] && [ "$raw" != 1 ]; then
    mapfile -t regressions < <(find "$here/regressions/$target" -type f | sort)
  fi
  # One rank: the readers' collectives involve this process alone. (Started as an MPI
  # singleton, without mpirun, LeakSanitizer's stop-the-world tracer was seen to crash.)
  if [ ${#regressions[@]} -gt 0 ] &&
     ! mpirun -n 1 "$binary" "${regressions[@]}" >"$build/fuzz-$target-regressions.log" 2>&1; then
    echo "fuzz $target: a regression input fails again (see $build/fuzz-$target-regressions.log)" >&2
    tail -n 40 "$build/fuzz-$target-regressions.log" >&2
    status=1
    continue
  fi
  start=$SECONDS
  if mpirun -n 1 "$binary" -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1048576 \
       -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$corpus" "$seeds" \
       >"$build/fuzz-$target.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$target.log")
    echo "fuzz $target: clean, ${runs:-?} inputs in $((SECONDS - start)) s (${#regressions[@]} regression inputs replayed)"
  else
    echo "fuzz $target: FAILED after $((SECONDS - start)) s (log: $build/fuzz-$target.log)" >&2
    grep -E "ERROR|SUMMARY|Test unit written|#[0-9]+ 0x|terminate|what\(\)" "$build/fuzz-$target.log" | head -n 40 >&2 || true
    status=1
  fi
done
exit "$status"
