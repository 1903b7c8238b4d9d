"""lloyd: distributed, exact K-Means — the engine of the `lloyd` command line, from Python.

    import lloyd
    km = lloyd.KMeans(n_clusters=8, random_state=0).fit(X)        # in process, threads
    km = lloyd.KMeans(8, comm=MPI.COMM_WORLD).fit(X_local)         # under mpirun: each rank its rows
    km = lloyd.load("model.h5")                                    # a model `lloyd fit` wrote
    km.save("model.h5"); km.to_sklearn()

See the README's "From Python" section.
"""

from . import _lloyd
from ._kmeans import KMeans, load

LloydError = _lloyd.LloydError

__all__ = ["KMeans", "load", "LloydError", "simd_level"]


def simd_level():
    """The kernels this machine runs: "avx512", "avx2" or "portable" (the same bits on every one)."""
    return _lloyd.simd_level()
