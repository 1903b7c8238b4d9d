"""Shared fixtures of the Python package's tests (tests/python; ctest python.*).

The package is imported from the build tree (PYTHONPATH=build/python, set by ctest); the
command line `lloyd` (LLOYD_BINARY) writes the models the package must reproduce bit for bit.
"""

import os
import shlex
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
# The environment before `import lloyd` initialised MPI in this process: Open MPI's singleton
# start adds variables (PMIX_*, OMPI_*) that would make a child mpirun believe it runs inside
# this job. Child launches get the environment as it was, less Open MPI's 1 s between SIGTERM
# and SIGKILL when it ends a job: it ends one after every non-zero exit, even when every rank
# has already exited, and these tests run many commands that must fail (none is signalled).
LAUNCH_ENV = {**os.environ, "OMPI_MCA_odls_base_sigkill_timeout": "0"}


@pytest.fixture(scope="session")
def lloyd_binary():
    binary = os.environ.get("LLOYD_BINARY", str(ROOT / "build" / "lloyd"))
    if not Path(binary).exists():
        pytest.fail(f"no lloyd executable at {binary} (set LLOYD_BINARY)")
    return binary


def mpirun_command():
    """The launcher ctest uses (LLOYD_MPIRUN), or mpirun --oversubscribe."""
    return shlex.split(os.environ.get("LLOYD_MPIRUN", "mpirun --oversubscribe"))


@pytest.fixture(scope="session")
def cli(lloyd_binary):
    """Runs `lloyd ARGS...` at `ranks` ranks; returns the completed process (checked)."""
    def run(*args, ranks=1, check=True):
        command = [*mpirun_command(), "-n", str(ranks), lloyd_binary, *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, env=LAUNCH_ENV)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{done.stderr}")
        return done
    return run


def read(path, dataset):
    with h5py.File(path, "r") as f:
        return f[dataset][()]


@pytest.fixture(scope="session")
def blobs():
    """997 rows of 5 features (float64) in 6 blobs, with initial centres: tests/data/lloyd_blobs_f64.h5."""
    path = DATA / "lloyd_blobs_f64.h5"
    return path, read(path, "/X"), read(path, "/init")
