"""lloyd from Python in a few lines: fit, inspect, save for the command line, hand over to
scikit-learn. Run it with the package importable (PYTHONPATH=build/python, or after
`pip install ./python`):

    /usr/bin/python3 examples/python_quickstart.py [OUTPUT_DIR]

The same script runs distributed, unchanged but for `comm`, under `mpirun -n 4` (see the
README's "From Python" section).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lloyd

# 1. Fit a NumPy array in process (threads only; no mpirun, no files).
X, truth = make_blobs(n_samples=20000, n_features=8, centers=5, random_state=0)
km = lloyd.KMeans(n_clusters=5, random_state=0).fit(X)
print(f"inertia {km.inertia_:.6g} after {km.n_iter_} iterations; cluster sizes {np.bincount(km.labels_)}")

# 2. The usual scikit-learn verbs: predict, transform (distances to every centre), score.
new_rows = X[:5] + 0.1
print("labels of new rows:", km.predict(new_rows))
print("distances to the centres:", km.transform(new_rows).round(2)[0])

# 3. Inside scikit-learn: a pipeline, float32 data kept in float32.
pipeline = make_pipeline(StandardScaler(), lloyd.KMeans(n_clusters=5, random_state=0))
labels = pipeline.fit_predict(X.astype(np.float32))
print("pipeline labels:", np.bincount(labels))

# 4. Files the command line reads: `lloyd predict --model model.h5 --input ...` labels rows the
#    same way; lloyd.load reads any model `lloyd fit` wrote.
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
model = out / "quickstart_model.h5"
km.save(model, force=True)
again = lloyd.load(model)
assert np.array_equal(again.predict(X), km.predict(X))
print(f"saved and reloaded {model}")

# 5. A scikit-learn KMeans with the same centres, for code that expects one.
sk = km.to_sklearn()
assert np.array_equal(sk.predict(X), km.predict(X))
print("to_sklearn():", type(sk).__name__, "with", sk.n_clusters, "centres")
