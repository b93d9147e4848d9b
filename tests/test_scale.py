"""Scale-out and the large game: thread caps under pytest-xdist, the MLP GAN (device sharding:
test_device_sharding.py)."""

import json
import os
import subprocess
import sys

import pytest

from harness.checks import load_matrix
from harness_pytest import cap_threads_per_worker


def test_threads_are_capped_per_xdist_worker():
    environ = {"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": str(os.cpu_count() or 1)}
    cap_threads_per_worker(environ)
    assert environ["OMP_NUM_THREADS"] == environ["OPENBLAS_NUM_THREADS"] == environ["HARNESS_JOBS"] == "1"
    assert environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    mine = {"PYTEST_XDIST_WORKER": "gw1", "PYTEST_XDIST_WORKER_COUNT": "2",
            "XLA_FLAGS": "intra_op_parallelism_threads=3", "OMP_NUM_THREADS": "3"}
    cap_threads_per_worker(mine)
    assert mine["XLA_FLAGS"] == "intra_op_parallelism_threads=3" and mine["OMP_NUM_THREADS"] == "3"
    outside = {}
    cap_threads_per_worker(outside)
    assert outside == {}


def test_the_large_game_has_ten_thousand_parameters_and_its_own_matrix(games):
    game = games["mlp_gan"]
    assert sum(game.dims) >= 10_000 and game.metadata["large"]
    _, default = load_matrix(games=games)
    assert "mlp_gan" not in {spec.game for spec in default}
    _, large = load_matrix("large", games)
    assert {(s.game, s.scheme.name, s.flow.name) for s in large} == {
        ("mlp_gan", scheme, flow) for scheme in ("simultaneous", "alternating") for flow in ("gradient", "modified")}


def test_the_mlp_gan_family_reaches_each_size_nearest():
    from harness.games.mlp_gan import mlp_gan, mlp_gan_of_size, parameter_count, width_for

    widths = [width_for(10**k) for k in (3, 4, 5, 6)]
    assert widths == [20, 68, 221, 704]
    assert [parameter_count(w) for w in widths] == [1023, 9999, 100_116, 998_979]
    assert parameter_count(72) == 11_163 and parameter_count(7, 3) == mlp_gan(7, 3).z0.size == 2 * 2 * 56 + 66
    game = mlp_gan_of_size(1000)
    assert (game.name, game.z0.size, game.metadata["large"]) == ("mlp_gan_1023", 1023, True)


@pytest.mark.slow
def test_the_large_game_measures_slopes_2_and_3(tmp_path):
    out = tmp_path / "large.json"
    run = subprocess.run([sys.executable, "-m", "harness", "check", "--all", "--matrix", "large", "--quiet",
                          "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    for result in json.loads(out.read_text())["results"]:
        expected = {"gradient": 2.0, "modified": 3.0}[result["flow"]["name"]]
        assert result["status"] == "PASS" and abs(result["fitted_slope"] - expected) < 0.1


XDIST_CHECKS = """
import pytest


@pytest.mark.parametrize("flow, expected", [("gradient", 2), ("modified", 3)])
@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_order(harness_check, scheme, flow, expected):
    harness_check("dirac_gan", scheme, flow, expected=expected, lr2=0.3)
"""


@pytest.mark.slow
def test_numbers_and_verdicts_are_the_same_under_pytest_xdist(tmp_path):
    (tmp_path / "test_orders.py").write_text(XDIST_CHECKS)
    documents = {}
    for label, extra in (("serial", []), ("xdist", ["-n", "2"])):
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
                              "--harness-json", f"{label}.json", "test_orders.py"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        entries = json.loads((tmp_path / f"{label}.json").read_text())["results"]
        documents[label] = sorted((e["test"].split("::")[-1], e["seed"], e["points"], e["errors"], e["status"],
                                   e["fitted_slope"]) for e in entries)
    assert len(documents["serial"]) == 4
    assert documents["serial"] == documents["xdist"]


def test_the_default_matrix_points_a_large_game_to_its_own_matrix(capsys):
    from harness.cli import main

    assert main(["check", "--all", "--game", "mlp_gan"]) == 2
    assert "mlp_gan: large games, checked with --matrix large" in capsys.readouterr().err
