#!/usr/bin/python3
"""The benchmark scripts never replace a file in a directory the user names.

    /usr/bin/python3 tests/bench/test_scripts_keep_user_files.py LLOYD

bench_memory.py (--data-dir), memory_table.py (--scratch) and bench_documents.py (--work) keep
their inputs in the directory given and write what their fits make with --force elsewhere
(a temporary directory of the run). Each runs here at a tiny size with a file named like one
of its outputs already in that directory; the file must come out the same bytes. Before the
scripts took their outputs aside (commit 94654b8), each of these runs replaced it.
Exits non-zero on the first script that replaced, removed or failed (a memory script's verdict
on the budget does not count: it measures lloyd, not the script).
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "scripts", "bench")
SENTINEL = b"the user's own file: lloyd's benchmarks must leave it as it is\n"


def check(lloyd, script, directory_option, outputs, arguments):
    """Runs `script` with `directory_option` a fresh directory holding `outputs` (names of files
    the script's fits would write there) and checks that every one is unchanged."""
    with tempfile.TemporaryDirectory(prefix="lloyd-keep-") as directory:
        for name in outputs:
            with open(os.path.join(directory, name), "wb") as out:
                out.write(SENTINEL)
        command = [sys.executable, os.path.join(BENCH, script), "--lloyd", lloyd, directory_option, directory,
                   *arguments]
        result = subprocess.run(command, capture_output=True, text=True)
        # The memory scripts end with their verdict on lloyd's memory (exit 1 when over budget:
        # an instrumented lloyd, as in the sanitizer stage, is); only their files matter here,
        # so a run counts once it got to its last line.
        completed = result.returncode == 0 or (result.returncode == 1 and "load average after" in result.stdout)
        if not completed:
            sys.exit(f"{script} failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}")
        for name in outputs:
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                sys.exit(f"{script} removed {name} from its {directory_option} directory")
            with open(path, "rb") as kept:
                if kept.read() != SENTINEL:
                    sys.exit(f"{script} replaced {name} in its {directory_option} directory")
        print(f"{script}: {', '.join(outputs)} kept in its {directory_option} directory")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lloyd = os.path.abspath(sys.argv[1])
    check(lloyd, "bench_memory.py", "--data-dir", ["model.h5"],
          ["--samples", "3000", "--features", "4", "--k", "4", "--ranks", "1", "--max-iter", "2", "--other-modes",
           "--tolerance", "100"])
    with tempfile.TemporaryDirectory(prefix="lloyd-keep-data-") as data:
        check(lloyd, "memory_table.py", "--scratch", ["sweep.h5"],
              ["--data-dir", data, "--samples", "3000", "--features", "4", "--ranks", "1",
               "--cases", "lloyd,choose-k-2..4-gap1", "--k", "4", "--max-iter", "2", "--tolerance", "100"])
    check(lloyd, "bench_documents.py", "--work", ["tfidf-1.h5", "model-1.h5"],
          ["--docs", "400", "--topics", "4", "--k", "4", "--ranks", "1", "--tfidf-args", "--min-df 2 --dtype float32"])


if __name__ == "__main__":
    main()
