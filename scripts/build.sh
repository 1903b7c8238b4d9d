#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds lloyd into build/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$LLOYD_ROOT/scripts/install-deps.sh" ${LLOYD_DEPS:-}
# Tests run up to 4 ranks on machines with fewer cores: the launcher must allow it.
cmake -S "$LLOYD_ROOT" -B "$LLOYD_BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DMPIEXEC_PREFLAGS=--oversubscribe "$@" >/dev/null
cmake --build "$LLOYD_BUILD" -j "$(nproc)"
