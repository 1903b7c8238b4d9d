#!/usr/bin/env bash
# `pip install ./python` as the README's quick start does it — offline, into a virtual
# environment that sees Debian's numpy/scipy/scikit-learn — then `import lloyd` from elsewhere
# fits and labels rows. LLOYD_BUILD_DIR (ctest: the build tree) spares a second full build.
#     tests/python/pip_install.sh PYTHON BUILD_DIR
set -euo pipefail
python=$1 build=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m venv --system-site-packages "$work/env"
LLOYD_BUILD_DIR=$build "$work/env/bin/pip" install --quiet --no-build-isolation --no-index "$root/python" \
  > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
cd "$work"
"$work/env/bin/python" - <<'PY'
import numpy as np
import lloyd
assert "env" in lloyd.__file__, lloyd.__file__  # the installed package, not the build tree
X = np.random.default_rng(0).normal(size=(500, 3))
km = lloyd.KMeans(4, random_state=1).fit(X)
assert (km.predict(X) == km.labels_).all()
print("installed lloyd at", lloyd.__file__, "fits:", km.inertia_)
PY
