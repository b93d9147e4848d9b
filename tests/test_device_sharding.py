"""Local and global errors on several devices (harness.measure.sweep_mesh): the rows split, padded when the
device count does not divide them, and each state split along its numbers, against the single-device run.

The numbers agree to |e_mesh - e_single| <= eps |z| N, a thousandth of the round-off floor below which the
fit drops errors: XLA compiles another program for a block of rows (and with the state split, a norm sums
partial sums from several devices), so the last bits of the states may differ, never more.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from harness.measure import FLOOR_FACTOR, sweep_mesh

SWEEP = """
import json, os, sys
import jax
import harness
from harness.model.catalog import load_game
from harness.flows import Flow
from harness.measure import (PARAM_SHARDS, default_step_sizes, initial_points, measure_global_error,
                             measure_local_error, sweep_mesh)
from harness.rules.schemes import Scheme
from harness.games.mlp_gan import mlp_gan_of_size
jax.config.update("jax_enable_x64", True)  # the harness's internals are called directly
game = load_game(sys.argv[1]) if sys.argv[1] != "mlp_gan_1023" else mlp_gan_of_size(1000)
scheme, flow, count, sizes = Scheme(sys.argv[2], 1.0, 0.3), Flow(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
points = initial_points(game, count)
step_sizes = default_step_sizes(game, scheme, sizes)
runs = {}
for shards in sys.argv[6:]:
    os.environ[PARAM_SHARDS] = shards
    mesh = sweep_mesh()
    local = measure_local_error(game, scheme, flow, step_sizes, points)
    glob = measure_global_error(game, scheme, flow, step_sizes, points, 10 * step_sizes[-1])  # N = 10 ... 316
    runs[shards] = {"mesh": dict(mesh.shape) if mesh else None,
                    **{f"{k}_{x}": getattr(m, x).tolist() for k, m in (("local", local), ("global", glob))
                       for x in ("errors", "floor")}}
print(json.dumps(runs))
"""


def _runs(devices: int, check: tuple, shards: list[str]) -> dict:
    """{param shards: the mesh, errors and floors} of the sweep ``check`` = (game, scheme, flow, points, step
    sizes) on ``devices`` CPU devices, in a fresh process (the device count is fixed when JAX starts)."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "HARNESS_CACHE_DIR": "off"}
    env.pop("HARNESS_PARAM_SHARDS", None)
    run = subprocess.run([sys.executable, "-c", SWEEP, *map(str, check), *shards],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _assert_same(mesh_run: dict, single: dict) -> None:
    """Local and global errors within eps |z| N of the single-device ones, which stand above the floor."""
    for measure in ("local", "global"):
        errors, floor = (np.asarray(single[f"{measure}_{x}"]) for x in ("errors", "floor"))
        assert np.all(errors > floor)
        np.testing.assert_array_less(np.abs(mesh_run[f"{measure}_errors"] - errors), floor / FLOOR_FACTOR)
        np.testing.assert_allclose(mesh_run[f"{measure}_floor"], floor, rtol=1e-14)


def test_one_device_needs_no_mesh():
    assert sweep_mesh() is None


def test_rows_padded_over_four_devices_give_the_single_device_errors():
    """15 rows (3 points x 5 step sizes) on 4 devices: padded to 16, 4 blocks of 4 rows."""
    check = ("dirac_gan", "alternating", "modified", 3, 5)
    single, meshes = _runs(1, check, [""])[""], _runs(4, check, [""])
    assert single["mesh"] is None and meshes[""]["mesh"] == {"rows": 4, "params": 1}
    _assert_same(meshes[""], single)


@pytest.mark.slow
@pytest.mark.parametrize("check", [("dirac_gan", "alternating", "modified", 3, 5),
                                   ("mlp_gan_1023", "simultaneous", "modified", 2, 8)])
def test_every_mesh_of_four_devices_gives_the_single_device_errors(check):
    """Meshes 4 x 1, 2 x 2 and 1 x 4 (rows x params), on a small game and the parameter-dominated one."""
    single, meshes = _runs(1, check, [""])[""], _runs(4, check, ["1", "2", "4"])
    assert [run["mesh"]["params"] for run in meshes.values()] == [1, 2, 4]
    for run in meshes.values():
        _assert_same(run, single)
