"""Bad input from Python: a Python exception with lloyd's message, never a crash of the
interpreter, a hang, or a silently wrong result.

Cases that crashed the interpreter before they were fixed run in a fresh interpreter
(`isolated`), so that a regression fails its own test instead of ending the session.
"""

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import lloyd
from conftest import LAUNCH_ENV, mpirun_command

X = np.random.default_rng(0).normal(size=(200, 4))


def isolated(code, timeout=120):
    """Runs `code` (with numpy as np, scipy.sparse as sp, lloyd and X defined) in a fresh
    interpreter; returns its completed process. A crash is a negative return code."""
    prelude = ("import json, threading, numpy as np, scipy.sparse as sp, lloyd\n"
               "X = np.random.default_rng(0).normal(size=(200, 4))\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def raised(done):
    """The exception line `code` printed (it catches and prints `type: message`), checked for no crash."""
    assert done.returncode == 0, f"interpreter died (status {done.returncode}):\n{done.stderr[-2000:]}"
    return done.stdout.strip()


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("name, value", [
    ("n_clusters", 2**31), ("n_clusters", 10**12), ("max_iter", 2**40), ("n_init", 2**31),
    ("max_no_improvement", 2**31), ("init_rounds", 2**31), ("n_threads", 2**31),
    ("batch_size", 2**64), ("init_size", 2**64), ("sample", 2**64), ("random_state", 2**64),
])
def test_integers_beyond_the_engine_types_raise_value_error(name, value):
    # Before: pybind11's "RuntimeError: Unable to cast Python instance to C++ type" or a
    # TypeError listing the binding's overloads.
    params = {"n_clusters": 3, name: value}
    with pytest.raises(ValueError, match=name):
        lloyd.KMeans(**params).fit(X)


@pytest.mark.parametrize("returned", ["'k-means++'", "None", "sp.csr_matrix(X[:3])"])
def test_callable_init_must_return_an_array(returned):
    # Before: a str gave "RuntimeError: Unable to cast ...", None "init must be two-dimensional".
    with pytest.raises(TypeError, match="init, a callable, must return an array"):
        lloyd.KMeans(3, init=lambda X, k, rs: eval(returned)).fit(X)


def test_init_as_a_list_of_rows_is_an_array():
    # scikit-learn takes any array-like init; before, a list was refused with a TypeError.
    by_list = lloyd.KMeans(3, init=X[:3].tolist()).fit(X)
    by_array = lloyd.KMeans(3, init=X[:3]).fit(X)
    np.testing.assert_array_equal(by_list.cluster_centers_, by_array.cluster_centers_)


# ---------------------------------------------------------------- rows and weights


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("damage", ["column_beyond_width", "negative_column", "indptr_beyond_data",
                                    "indptr_decreasing"])
def test_a_malformed_csr_matrix_raises(damage, metric):
    # scipy keeps what it is handed. Before: a segfault, heap corruption ("corrupted size vs.
    # prev_size"), or, densified for a Euclidean fit, a silently different matrix.
    done = isolated(f"""
        m = sp.random(30, 8, density=0.3, random_state=1, format="csr")
        m.indices = m.indices.copy(); m.indptr = m.indptr.copy()
        damage = {damage!r}
        if damage == "column_beyond_width": m.indices[0] = 100
        if damage == "negative_column": m.indices[0] = -1
        if damage == "indptr_beyond_data": m.indptr[3] = 10**6
        if damage == "indptr_decreasing": m.indptr[3], m.indptr[4] = m.indptr[4], m.indptr[3]
        try:
            lloyd.KMeans(2, metric={metric!r}, random_state=0).fit(m)
            print("no error")
        except Exception as e:
            print(type(e).__name__, e)
    """)
    assert raised(done).startswith("ValueError X is not a valid CSR matrix"), done.stdout


@pytest.mark.parametrize("mode", ["lloyd", "minibatch", "bisecting", "kmedians", "kmedoids"])
def test_subnormal_sample_weights_are_refused(mode):
    # -log(u) / 5e-324 overflows the weighted draw's key: no row was ever drawn and the fit
    # indexed an empty selection (segfault, also in `lloyd fit --sample-weight`).
    done = isolated(f"""
        try:
            lloyd.KMeans(3, mode={mode!r}, random_state=0).fit(X, sample_weight=np.full(200, 5e-324))
            print("no error")
        except Exception as e:
            print(type(e).__name__, e)
    """)
    assert "the smallest positive weight lloyd accepts" in raised(done), done.stdout
    # Weights are relative: the same weights scaled up fit.
    assert lloyd.KMeans(3, mode=mode, random_state=0).fit(X, sample_weight=np.full(200, 1e-300)).inertia_ >= 0


def test_fits_from_threads_with_different_thread_counts_equal_sequential_fits():
    # The engine's thread count was one global: a fit sized its per-thread buffers for 1
    # thread while another fit set 4 (segfault). It is per calling thread now.
    done = isolated("""
        Y = np.random.default_rng(1).normal(size=(20000, 8))
        expected = lloyd.KMeans(7, random_state=1, n_threads=1).fit(Y).cluster_centers_
        results = {}
        def fit(n):
            results[n] = lloyd.KMeans(7, random_state=1, n_threads=n).fit(Y).cluster_centers_
        for _ in range(3):
            threads = [threading.Thread(target=fit, args=(n,)) for n in (1, 2, 3, 4)]
            [t.start() for t in threads]; [t.join() for t in threads]
            assert all((r == expected).all() for r in results.values())
        print("equal")
    """, timeout=300)
    assert raised(done) == "equal"


# ---------------------------------------------------------------- a fitted model's precision


@pytest.mark.parametrize("method", ["predict", "transform", "score", "distance_to_centre"])
def test_float32_rows_on_a_float64_model(method):
    # Before: "TypeError: Cannot cast array data from dtype('float64') to dtype('float32')".
    # Rows are labelled in the model's precision, as `lloyd predict` reads them.
    model = lloyd.KMeans(3, random_state=0).fit(X)
    rows32 = X.astype(np.float32)
    got = getattr(model, method)(rows32)
    expected = getattr(model, method)(rows32.astype(np.float64))
    if method == "transform":
        assert got.dtype == np.float32  # the output keeps X's precision
        expected = expected.astype(np.float32)
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------- tampered state


def _bisecting_tree_with(**fields):
    def change(state):
        tree = dict(state["tree"])
        for name, update in fields.items():
            tree[name] = update(np.array(tree[name]))
        state["tree"] = tree
    return change


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


def _left_child_only(left):
    left[0] = 1
    return left


TAMPERED = {
    # name: (mode, change, expected message); the first three crashed the interpreter.
    "no_centres": ("lloyd", _set("centroids", np.zeros((0, 4))), "no cluster centres"),
    "node_with_one_child": ("bisecting", _bisecting_tree_with(left=_left_child_only,
                                                              right=lambda r: np.where(np.arange(len(r)) == 0, -1, r)),
                            "/tree node 0 has children"),
    "short_scaling": ("lloyd", _set("scaling", {"mean": np.zeros(1), "scale": np.ones(1)}),
                      "/scaling has 1 means"),
    "leaf_label_outside_k": ("bisecting", _bisecting_tree_with(label=lambda l: np.where(l >= 0, 10**6, l)),
                             "label 1000000"),
    "zero_scale": ("lloyd", _set("scaling", {"mean": np.zeros(4), "scale": np.zeros(4)}), "scale element 0"),
    "algorithm_not_a_string": ("lloyd", _set("algorithm", 5), "'algorithm' is 5"),
    "negative_label_rows": ("lloyd", _set("label_rows", -1), "'label_rows' is -1"),
}


@pytest.mark.parametrize("action", ["predict", "transform", "save", "pickled_predict"])
@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_state_raises(case, action, tmp_path):
    mode, change, expected = TAMPERED[case]
    model = lloyd.KMeans(4, mode=mode, random_state=0).fit(X)
    state = dict(model._state)
    change(state)
    # Run in a fresh interpreter: the state travels pickled, as a model saved with joblib would.
    blob = tmp_path / "model.pkl"
    model._state = state
    blob.write_bytes(pickle.dumps(model))
    out = tmp_path / "model.h5"
    done = isolated(f"""
        import pickle
        model = pickle.loads(open({str(blob)!r}, "rb").read())
        try:
            action = {action!r}
            if action == "save":
                model.save({str(out)!r})
            elif action == "pickled_predict":
                pickle.loads(pickle.dumps(model)).predict(X)
            else:
                getattr(model, action)(X)
            print("no error")
        except Exception as e:
            print(type(e).__name__, e)
    """)
    line = raised(done)
    assert line.startswith("LloydError") and expected in line, line
    assert not out.exists()


# ---------------------------------------------------------------- ranks that disagree


@pytest.mark.parametrize("ranks", [2, 4])
def test_ranks_that_call_differently_raise_on_every_rank(ranks):
    # Before: a different k, mode, init, dtype, format or sample_weight on one rank hung every
    # rank in a collective (or MPI aborted with MPI_ERR_TRUNCATE, then hung).
    script = Path(__file__).with_name("mpi_bad_input.py")
    command = [*mpirun_command(), "-n", str(ranks), sys.executable, str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240,
                          env={**LAUNCH_ENV, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for case in ["n_clusters", "mode", "init", "init_values", "dtype", "sparse", "sample_weight",
                 "predict_sample_weight", "empty_rank_dtype"]:
        assert done.stdout.count(f"[{case} ok]") == ranks, (case, done.stdout)


# ---------------------------------------------------------------- files


@pytest.fixture(scope="module")
def fitted():
    return lloyd.KMeans(3, random_state=0).fit(X)


def test_a_path_with_a_nul_byte_writes_nothing(fitted, tmp_path):
    # The C library stops at the NUL: "a\0b.h5" created (and left, 1 MiB reserved) a file "a".
    with pytest.raises(ValueError, match="NUL byte"):
        fitted.save(str(tmp_path / "a\0b.h5"))
    with pytest.raises(ValueError, match="NUL byte"):
        lloyd.load(str(tmp_path / "a\0b.h5"))
    with pytest.raises(ValueError, match="NUL byte"):  # the engine itself refuses it too
        lloyd._lloyd.save_model(fitted._state, str(tmp_path / "a\0b.h5"), False, None)
    assert list(tmp_path.iterdir()) == []


def test_bytes_and_pathlib_paths(fitted, tmp_path):
    # Before, str(b"...") named a file "b'...'" in the working directory.
    fitted.save(bytes(tmp_path / "model.h5"))
    np.testing.assert_array_equal(lloyd.load(bytes(tmp_path / "model.h5")).cluster_centers_, fitted.cluster_centers_)
    np.testing.assert_array_equal(lloyd.load(tmp_path / "model.h5").cluster_centers_, fitted.cluster_centers_)


def test_existing_files_and_links_are_never_replaced(fitted, tmp_path):
    mine = tmp_path / "mine.h5"
    mine.write_text("the user's")
    with pytest.raises(ValueError, match="exists; pass --force"):
        fitted.save(mine)
    target = tmp_path / "target.txt"
    target.write_text("precious")
    link = tmp_path / "link.h5"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        fitted.save(link, force=True)
    assert mine.read_text() == "the user's" and target.read_text() == "precious" and link.is_symlink()


def test_a_full_disk_leaves_no_partial_file(tmp_path):
    # RLIMIT_FSIZE stands in for a full disk (EFBIG where ENOSPC would be): a clean error,
    # nothing left in the directory.
    done = isolated(f"""
        import os, resource
        model = lloyd.KMeans(3, random_state=0).fit(X)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
        try:
            model.save({str(tmp_path / "model.h5")!r})
            print("no error")
        except Exception as e:
            print(type(e).__name__, e)
    """)
    assert raised(done).startswith("LloydError cannot write"), done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["text", "truncated", "nan_centroid"])
def test_loading_a_file_that_is_not_a_model_raises(fitted, tmp_path, content):
    path = tmp_path / "model.h5"
    if content == "text":
        path.write_text("not hdf5\n" * 100)
    else:
        fitted.save(path)
        if content == "truncated":
            path.write_bytes(path.read_bytes()[:6000])
        else:
            import h5py
            with h5py.File(path, "r+") as f:
                f["/centroids"][0, 0] = np.nan
    expected = {"text": "is not an HDF5 file", "truncated": "truncated file", "nan_centroid": "contains NaN"}[content]
    with pytest.raises(ValueError, match=expected):
        lloyd.load(path)
