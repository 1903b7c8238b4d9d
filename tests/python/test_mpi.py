"""lloyd.KMeans(comm=...) under mpirun at 1-4 ranks: each rank passes only its own rows, and
the fit is the same bits as `lloyd fit` on the whole file (mpi_fit.py checks every rank); a bad
row on one rank makes every rank raise, nothing hangs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, LAUNCH_ENV, mpirun_command

SCRIPT = Path(__file__).with_name("mpi_fit.py")

CASES = {
    "lloyd": (DATA / "lloyd_blobs_f64.h5", ["--k", "6", "--seed", "4"], dict(n_clusters=6, random_state=4)),
    "bisecting_f32": (DATA / "lloyd_blobs_f32.h5", ["--k", "5", "--seed", "2", "--mode", "bisecting"],
                      dict(n_clusters=5, random_state=2, mode="bisecting")),
    "kpar_weighted": (DATA / "weights_real.h5", ["--k", "5", "--seed", "3", "--init", "k-means||", "--sample-weight",
                                                 f"{DATA / 'weights_real.h5'}:/w"],
                      dict(n_clusters=5, random_state=3, init="k-means||", weighted=True)),
    "kmedoids": (DATA / "variants_kmedoids.h5", ["--k", "3", "--mode", "kmedoids"],
                 dict(n_clusters=3, random_state=0, mode="kmedoids")),
}


def run(ranks, *args):
    command = [*mpirun_command(), "-n", str(ranks), sys.executable, str(SCRIPT), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180,
                          env={**LAUNCH_ENV, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
@pytest.mark.parametrize("case", list(CASES))
def test_distributed_fit_is_the_command_line_fit(cli, tmp_path, case, ranks):
    data, options, params = CASES[case]
    model = tmp_path / "model.h5"
    cli("fit", "--input", f"{data}:/X", "--output", model, *options)
    split = "skewed" if ranks > 2 else "even"
    out = run(ranks, data, model, split, "fit", json.dumps(params))
    assert out.count("OK") == ranks


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_bad_row_on_one_rank_fails_every_rank(ranks):
    out = run(ranks, DATA / "lloyd_blobs_f64.h5", "-", "skewed", "bad", json.dumps(dict(n_clusters=6)))
    assert out.count("raised") == ranks
