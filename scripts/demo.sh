#!/usr/bin/env bash
# Installs missing Debian packages, builds lloyd and clusters the bundled sample
# data/sample.h5 (5000 x 4, five blobs) with 2 MPI ranks. The model goes to
# demo-output/model.h5 (overwritten on every run).
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$LLOYD_ROOT/scripts/build.sh"
mkdir -p "$LLOYD_ROOT/demo-output"
mpirun --oversubscribe -n 2 "$LLOYD_BUILD/lloyd" fit \
  --input "$LLOYD_ROOT/data/sample.h5:/X" --k 5 --seed 1 --n-init 3 \
  --output "$LLOYD_ROOT/demo-output/model.h5" --force
echo
echo "centroids (k x d) of demo-output/model.h5:"
h5dump -d /centroids -y -w 100 "$LLOYD_ROOT/demo-output/model.h5" | sed -n '/DATA {/,/}/p'
echo "true blob centres (/centers of data/sample.h5, in generation order):"
h5dump -d /centers -y -w 100 "$LLOYD_ROOT/data/sample.h5" | sed -n '/DATA {/,/}/p'
