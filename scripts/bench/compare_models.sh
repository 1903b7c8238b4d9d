#!/bin/bash
# The same model bits in every mode: fits each case with two lloyd binaries (an older build and
# this one) at 1 and 3 ranks and compares the models with h5diff (run times excluded).
#   scripts/bench/compare_models.sh OLD_LLOYD NEW_LLOYD [SCRATCH_DIR]
# Prints "same" or "DIFFERENT" per case and rank count; exits 1 when any differs or fails.
set -u
source "$(dirname "$0")/../env.sh"
OLD=${1:?old lloyd binary}; NEW=${2:?new lloyd binary}
D=${3:-/tmp/lloyd-compare-models}; mkdir -p "$D"; status=0
[ -e $D/f64.h5 ] || mpirun -n 2 $OLD generate --output $D/f64.h5 --samples 200000 --features 16 --centers 32 --seed 3 >/dev/null
[ -e $D/f32.h5 ] || mpirun -n 2 $OLD generate --output $D/f32.h5 --samples 200000 --features 16 --centers 32 --dtype float32 --seed 4 >/dev/null
# More than DirectScorer's 16 features: the tiled assignment (ScoreTiles), tails included.
[ -e $D/f32w.h5 ] || mpirun -n 2 $OLD generate --output $D/f32w.h5 --samples 60000 --features 40 --centers 64 --dtype float32 --seed 8 >/dev/null
[ -e $D/f64w.h5 ] || mpirun -n 2 $OLD generate --output $D/f64w.h5 --samples 40000 --features 33 --centers 40 --seed 9 >/dev/null
[ -e $D/w.h5 ] || /usr/bin/python3 - "$D" <<'PY'
import h5py, numpy as np
import sys
with h5py.File(sys.argv[1] + "/w.h5", "x") as f: f["w"]=np.random.default_rng(5).uniform(0.5,2,200000)
PY
# The inputs above are kept in DIR for the next run; the models (written with --force) go to a
# directory of this run's own, so no file already in DIR is ever replaced.
M=$(mktemp -d "$D/models.XXXXXX"); trap 'rm -rf "$M"' EXIT
cases=(
 "default|f64|--k 32"
 "f32default|f32|--k 32"
 "kpp256|f32|--k 256 --max-iter 5"
 "kpar|f64|--k 32 --init k-means||"
 "kpar1024|f32|--k 1024 --init k-means|| --max-iter 2"
 "forgy_ninit|f64|--k 16 --init forgy --n-init 3"
 "randpart|f32|--k 16 --init random-partition"
 "lloyd|f32|--k 32 --algorithm lloyd"
 "yinyang|f64|--k 64 --algorithm yinyang"
 "bisecting|f64|--k 16 --mode bisecting"
 "kmedians|f32|--k 16 --mode kmedians"
 "kmedoids|f64|--k 8 --mode kmedoids --sample 2000"
 "minibatch|f32|--k 16 --mode minibatch"
 "stream|f32|--k 32 --stream --init forgy"
 "weights|f64|--k 16 --sample-weight $D/w.h5:/w"
 "cosine|f64|--k 16 --metric cosine"
 "standardize|f64|--k 16 --standardize --distances"
 "tiles|f32w|--k 64 --algorithm lloyd --max-iter 10"
 "tiles_default|f32w|--k 64 --max-iter 10"
 "tiles64|f64w|--k 40 --algorithm lloyd --max-iter 10"
 "tiles64_default|f64w|--k 40 --max-iter 10"
)
for np in 1 3; do for c in "${cases[@]}"; do IFS='|' read name data opts <<< "$c"
  for b in old new; do bin=$OLD; [ $b = new ] && bin=$NEW
    mpirun --oversubscribe -n $np $bin fit --input $D/$data.h5:/X $opts --seed 7 --output $M/${name}_$b.h5 --force >/dev/null 2>$M/${name}_$b.err || { echo "$name np$np $b FAILED: $(tail -1 $M/${name}_$b.err)"; status=1; }
  done
  h5diff --exclude-path /timings $M/${name}_old.h5 $M/${name}_new.h5 >/dev/null && echo "np$np $name same" || { echo "np$np $name DIFFERENT"; status=1; }
done; done
exit $status
