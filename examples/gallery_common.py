"""What every gallery example shares (examples/*/run.py): its command line, running lloyd on
MPI ranks, where pictures go, and the checks the tests run (ctest label `examples`).

Every example:
    /usr/bin/python3 examples/NAME/run.py [--large] [--ranks N] [--out docs/gallery] [--lloyd build/lloyd]
runs at a small size in under a minute on 2 cores (--large: a size that shows the distributed
run), writes its pictures into --out and prints the few numbers that matter; the tests run it
with --check, which also fails (exit status 1, one line per failed expectation) when a number
is not what the picture claims.
"""

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"

# Pictures are drawn without a display.
os.environ.setdefault("MPLBACKEND", "Agg")


def arguments(description, **defaults):
    """The options every example takes; `defaults` adds the example's own (name=value)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="a size that shows the distributed run")
    parser.add_argument("--ranks", type=int, default=None, help="MPI ranks for lloyd (default 2; 4 with --large)")
    parser.add_argument("--out", type=Path, default=GALLERY, help="where the pictures go (docs/gallery)")
    parser.add_argument("--lloyd", default=os.environ.get("LLOYD_BINARY", str(ROOT / "build" / "lloyd")),
                        help="the lloyd executable (build/lloyd)")
    parser.add_argument("--check", action="store_true",
                        help="fail unless the numbers are what the pictures claim (the tests' mode)")
    for name, value in defaults.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    args = parser.parse_args()
    if args.ranks is None:
        args.ranks = 4 if args.large else 2
    args.out.mkdir(parents=True, exist_ok=True)
    # Intermediate files (data sets, models) live in a scratch directory removed at exit.
    args.work = Path(tempfile.mkdtemp(prefix="lloyd-example-"))
    atexit.register(shutil.rmtree, args.work, True)
    return args


def lloyd(args, *command, ranks=None, json_output=False):
    """Runs `lloyd COMMAND...` on `ranks` (default args.ranks) MPI ranks; returns its stdout, or
    the parsed JSON object of its last line with json_output (pass --json yourself)."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "^munge"),
               OMPI_MCA_pml=os.environ.get("OMPI_MCA_pml", "ob1"))
    full = ["mpirun", "--oversubscribe", "-n", str(ranks or args.ranks), args.lloyd, *map(str, command)]
    done = subprocess.run(full, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(full)} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1]) if json_output else done.stdout


class Checks:
    """Expectations of an example's numbers: reported always, fatal with --check."""

    def __init__(self, args):
        self.args, self.failed = args, []

    def expect(self, condition, what):
        print(f"  {'ok' if condition else 'FAILED'}: {what}")
        if not condition:
            self.failed.append(what)

    def finish(self):
        if self.failed and self.args.check:
            sys.exit(f"{len(self.failed)} expectation(s) failed: " + "; ".join(self.failed))


def save(figure, args, name):
    """Writes the figure as args.out/NAME.png (NAME_large.png with --large: the committed
    pictures are the default size's) and says so."""
    path = args.out / f"{name}{'_large' if args.large else ''}.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    print(f"picture: {path}")
    return path
