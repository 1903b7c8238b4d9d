"""Run under mpirun by test_metrics.py, test_choose_k.py and test_text.py: every rank passes only
its own block of rows (documents) with comm=MPI.COMM_WORLD, and the result must be the same bits
as the in-process call on all of them (computed on every rank for the check only).

    mpirun -n N python mpi_analysis.py KIND      KIND: metrics, choose_k, tfidf or bad

Blocks are skewed at 3 ranks or more: rank 0 holds half the rows, the last rank none.
"""

import os
import subprocess
import sys
from pathlib import Path


def launch(ranks, kind, timeout=240, **environment):
    """Runs this script at `ranks` ranks (from a test); returns its stdout, checked."""
    from conftest import LAUNCH_ENV, mpirun_command
    command = [*mpirun_command(), "-n", str(ranks), sys.executable, str(Path(__file__)), kind]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**LAUNCH_ENV, "OMP_NUM_THREADS": "1", **environment})
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def bounds(n, size):
    if size < 3:
        return [n * r // size for r in range(size + 1)]
    middle = size - 2
    return [0] + [n // 2 + (n - n // 2) * r // middle for r in range(middle + 1)] + [n]


def main(kind):
    import h5py
    import numpy as np
    import scipy.sparse as sp
    from mpi4py import MPI

    import lloyd

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    data = Path(__file__).resolve().parents[1] / "data"

    def mine(n):
        b = bounds(n, size)
        return slice(b[rank], b[rank + 1])

    def read(name, dataset):
        with h5py.File(data / name, "r") as f:
            if isinstance(f[dataset], h5py.Group):
                g = f[dataset]
                return sp.csr_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=tuple(g.attrs["shape"]))
            return f[dataset][()]

    if kind == "metrics":
        m = lloyd.metrics
        for name in ("metrics_blobs_f64.h5", "metrics_blobs_f32.h5", "metrics_sparse_labels.h5"):
            X, labels = read(name, "/X"), read(name, "/labels")
            own = mine(len(X))
            for score in (m.silhouette_score, m.calinski_harabasz_score, m.davies_bouldin_score):
                assert score(X[own], labels[own], comm=comm) == score(X, labels), (name, score.__name__)
            assert m.silhouette_score(X[own], labels[own], sample_size=150, random_state=4, comm=comm) == \
                m.silhouette_score(X, labels, sample_size=150, random_state=4)
            assert m.silhouette_score(X[own], labels[own], metric="cosine", comm=comm) == \
                m.silhouette_score(X, labels, metric="cosine")
            np.testing.assert_array_equal(m.silhouette_samples(X[own], labels[own], comm=comm),
                                          m.silhouette_samples(X, labels)[own])
            # Labels as a plain list: a rank without rows passes [] (float64 to NumPy).
            assert m.silhouette_score(X[own], [int(v) for v in labels[own]], comm=comm) == m.silhouette_score(X, labels)
            names = np.array([f"cluster {v}" for v in labels])
            assert m.silhouette_score(X[own], names[own], comm=comm) == m.silhouette_score(X, labels)
        X, labels = read("cosine_sparse.h5", "/X"), read("cosine_sparse.h5", "/labels")
        own = mine(X.shape[0])
        assert m.silhouette_score(X[own], labels[own], metric="cosine", comm=comm) == \
            m.silhouette_score(X, labels, metric="cosine")
    elif kind == "choose_k":
        X = read("metrics_gap.h5", "/X")
        for metric, criteria in (("euclidean", None), ("cosine", None)):
            options = dict(criteria=criteria, metric=metric, gap_refs=3, random_state=5, silhouette_max_exact=300,
                           silhouette_sample_size=200)
            if metric == "cosine":
                del options["gap_refs"]
            ours = lloyd.choose_k(X[mine(len(X))], range(1, 6), comm=comm, **options)
            whole = lloyd.choose_k(X, range(1, 6), **options)
            assert ours.best == whole.best, (ours.best, whole.best)
            for column in whole.table:
                np.testing.assert_array_equal(ours.table[column], whole.table[column], err_msg=column)
    elif kind == "tfidf":
        text = (data / "tfidf_corpus.txt").read_text(encoding="utf-8")
        documents = text[:-1].split("\n")
        new = (data / "tfidf_new.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
        for options in ({}, dict(stop_words="english", ngram_range=(1, 2), min_df=2, max_features=500),
                        dict(analyzer="char_wb", ngram_range=(2, 3), dtype=np.float32)):
            ours = lloyd.tfidf(documents[mine(len(documents))], comm=comm, **options)
            whole = lloyd.tfidf(documents, **options)
            assert ours.vocabulary == whole.vocabulary
            np.testing.assert_array_equal(ours.idf_, whole.idf_)
            for got, expected in ((ours.X, whole.X[mine(len(documents))]),
                                  (ours.transform(new[mine(len(new))]), whole.transform(new)[mine(len(new))])):
                assert got.dtype == expected.dtype and got.shape == expected.shape
                np.testing.assert_array_equal(got.indptr, expected.indptr)
                np.testing.assert_array_equal(got.indices, expected.indices)
                np.testing.assert_array_equal(got.data, expected.data)
        path = os.environ["LLOYD_TFIDF_FILE"]
        X, vocabulary = lloyd.read_tfidf(path, comm=comm)
        whole, whole_vocabulary = lloyd.read_tfidf(path)
        assert vocabulary == whole_vocabulary
        blocks = comm.allgather(X)
        assert (sp.vstack(blocks) != whole).nnz == 0 and sum(b.shape[0] for b in blocks) == whole.shape[0]
    elif kind == "bad":
        X, labels = read("metrics_blobs_f64.h5", "/X"), read("metrics_blobs_f64.h5", "/labels")
        own = mine(len(X))
        holder = max(r for r in range(size) if bounds(len(X), size)[r + 1] > bounds(len(X), size)[r])
        X_local, labels_local = X[own].copy(), labels[own]
        if rank == holder:
            X_local[-1, 2] = np.nan
        failures = 0
        for call in (lambda: lloyd.metrics.silhouette_score(X_local, labels_local, comm=comm),
                     lambda: lloyd.metrics.davies_bouldin_score(X[own], labels_local[:-1] if rank == holder
                                                                else labels_local, comm=comm),
                     lambda: lloyd.choose_k(X_local, range(2, 4), comm=comm),
                     lambda: lloyd.tfidf(["a document", 7] if rank == holder else ["text"], comm=comm)):
            try:
                call()
            except ValueError as error:
                failures += 1
                assert "\n" not in str(error), error
        assert failures == 4, failures
    else:
        sys.exit(f"unknown kind {kind}")
    print(f"rank {rank} OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
