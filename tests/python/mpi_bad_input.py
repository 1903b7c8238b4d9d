"""Run under mpirun by test_bad_input.py: ranks that call lloyd.KMeans(comm=...) differently.

    mpirun -n N python mpi_bad_input.py

Each case gives one rank (rank 0, or the last) another parameter, dtype, format or sample
weights than the others. Before the check, the ranks entered different collectives and waited
forever (or MPI aborted with MPI_ERR_TRUNCATE); now every rank raises ValueError naming what
differs. A rank without rows (np.zeros((0, d)), float64) beside float32 ranks is no conflict:
it takes their dtype. Prints "[CASE ok]" per case on every rank.
"""

import sys

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI

import lloyd

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
last = size - 1
X = np.random.default_rng(rank).normal(size=(40, 4))


def refused(case, expected, fit=None, **params):
    """The fit (or `fit(estimator)`) must raise ValueError naming `expected` on every rank."""
    estimator = lloyd.KMeans(**{"n_clusters": 3, "random_state": 0, "comm": comm, **params})
    try:
        (fit or (lambda e: e.fit(X)))(estimator)
    except ValueError as error:
        assert expected in str(error), f"{case}: {error}"
        print(f"[{case} ok]", flush=True)
        return
    sys.exit(f"rank {rank}: {case}: no error")


refused("n_clusters", "n_clusters", n_clusters=3 if rank else 4)
refused("mode", "mode", mode="lloyd" if rank else "kmedoids")
refused("init", "init", init=X[:3] if rank == 0 else "k-means++")
refused("init_values", "init", init=X[:3])  # every rank its own rows: other centres
refused("dtype", "dtype", fit=lambda e: e.fit(X.astype(np.float32) if rank == last else X))
refused("sparse", "format", metric="cosine", fit=lambda e: e.fit(sp.csr_matrix(X) if rank == 0 else X))
refused("sample_weight", "sample_weight", fit=lambda e: e.fit(X, sample_weight=np.ones(40) if rank == 0 else None))
fitted = lloyd.KMeans(3, random_state=0, comm=comm).fit(X)
refused("predict_sample_weight", "sample_weight",
        fit=lambda e: fitted.score(X, sample_weight=np.ones(40) if rank == last else None))

# A rank without rows may pass a float64 np.zeros((0, 4)) beside float32 ranks.
rows = np.zeros((0, 4)) if rank == 0 else X.astype(np.float32)
estimator = lloyd.KMeans(3, random_state=0, comm=comm).fit(rows)
assert estimator.cluster_centers_.dtype == np.float32
print("[empty_rank_dtype ok]", flush=True)
