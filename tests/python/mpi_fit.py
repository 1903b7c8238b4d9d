"""Run under mpirun by test_mpi.py: every rank fits its own block of rows with
lloyd.KMeans(comm=MPI.COMM_WORLD) and the result is checked against `lloyd fit`'s model.

    mpirun -n N python mpi_fit.py DATA.h5 MODEL.h5 SPLIT KIND [options as JSON]

SPLIT: "even" (lloyd's block distribution) or "skewed" (at 3 ranks or more: rank 0 holds half
the rows, the last rank none). KIND: "fit" compares the fitted model bit for bit; "bad" puts a NaN in the last
non-empty rank's rows and expects every rank to raise the same error (no hang).
"""

import json
import sys

import h5py
import numpy as np
from mpi4py import MPI

import lloyd

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
data, model, split, kind, params = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])

with h5py.File(data, "r") as f:
    n = f["/X"].shape[0]
    if split == "even" or size < 3:
        bounds = [n * r // size for r in range(size + 1)]
    else:  # rank 0 half the rows, the middle ranks the rest, the last rank none
        middle = size - 2
        bounds = [0] + [n // 2 + (n - n // 2) * r // middle for r in range(middle + 1)] + [n]
    lo, hi = bounds[rank], bounds[rank + 1]
    X_local = f["/X"][lo:hi]  # this rank's rows only
    weights = f["/w"][lo:hi] if params.pop("weighted", False) else None

if kind == "bad":
    holder = max(r for r in range(size) if bounds[r + 1] > bounds[r])
    if rank == holder:
        X_local = X_local.copy()
        X_local[-1, 0] = np.nan
    try:
        lloyd.KMeans(comm=comm, **params).fit(X_local)
    except ValueError as error:
        print(f"rank {rank} raised: {error}", flush=True)
        assert "NaN" in str(error), error
        sys.exit(0)
    sys.exit(f"rank {rank}: no error")

estimator = lloyd.KMeans(comm=comm, **params).fit(X_local, sample_weight=weights)
assert len(estimator.labels_) == hi - lo
labels = comm.gather(estimator.labels_, root=0)  # for the check only
with h5py.File(model, "r") as f:
    expected_centres = f["/centroids"][()]
    expected_labels = f["/labels"][()] if "/labels" in f else None
    expected_inertia = f.attrs["inertia"]
np.testing.assert_array_equal(estimator.cluster_centers_, expected_centres)
assert estimator.inertia_ == expected_inertia, (estimator.inertia_, expected_inertia)
predicted = estimator.predict(X_local)
score = estimator.score(X_local, sample_weight=weights)
assert score == -expected_inertia or params.get("mode") in ("minibatch", "bisecting"), (score, expected_inertia)
if rank == 0 and expected_labels is not None:
    np.testing.assert_array_equal(np.concatenate(labels), expected_labels)
print(f"rank {rank}: {hi - lo} rows OK", flush=True)
