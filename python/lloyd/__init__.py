"""lloyd: distributed, exact K-Means — the engine of the `lloyd` command line, from Python.

    import lloyd
    km = lloyd.KMeans(n_clusters=8, random_state=0).fit(X)        # in process, threads
    km = lloyd.KMeans(8, comm=MPI.COMM_WORLD).fit(X_local)         # under mpirun: each rank its rows
    km = lloyd.load("model.h5")                                    # a model `lloyd fit` wrote
    km.save("model.h5"); km.to_sklearn()
    lloyd.metrics.silhouette_score(X, labels)                      # exact, as scikit-learn's
    lloyd.choose_k(X, range(2, 11), random_state=0).best          # `lloyd choose-k`
    X, vocabulary = lloyd.tfidf(documents)                         # TfidfVectorizer's matrix
    X, vocabulary = lloyd.read_tfidf("corpus.h5")                  # a file `lloyd tfidf` wrote

See the README's "From Python" section.
"""

from . import _lloyd, metrics
from ._kmeans import KMeans, load
from ._select import ChooseKResult, choose_k
from ._text import Tfidf, read_tfidf, tfidf

LloydError = _lloyd.LloydError

__all__ = ["KMeans", "load", "LloydError", "simd_level", "metrics", "choose_k", "ChooseKResult", "tfidf", "Tfidf",
           "read_tfidf"]


def simd_level():
    """The kernels this machine runs: "avx512", "avx2" or "portable" (the same bits on every one)."""
    return _lloyd.simd_level()
