#!/usr/bin/env bash
# Installs missing Debian packages, builds lloyd and runs every test (unit, MPI at 1-4
# ranks, end-to-end CLI, and the job scripts on a real local Slurm, which needs root).
# Extra arguments go to ctest, e.g. scripts/test.sh -R sklearn
set -euo pipefail
source "$(dirname "$0")/env.sh"
LLOYD_DEPS=--test "$LLOYD_ROOT/scripts/build.sh"
cd "$LLOYD_BUILD"
ctest --output-on-failure "$@"
