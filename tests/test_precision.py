"""The harness computes in float64 without changing the process's JAX precision (harness.base.precision)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harness
from harness.checks import CheckSpec, Settings, run_check
from harness.flows import Flow
from harness.measure import measure_local_error
from harness.rules.schemes import Scheme

pytestmark = pytest.mark.user_precision


def users_float32_computation():
    x = jnp.linspace(0.0, 1.0, 7)
    return jnp.sin(x) @ x + jnp.float32(1e-3)


def test_a_users_float32_jax_keeps_its_dtype_and_bits_across_a_check(harness_check):
    before = users_float32_computation()
    result = harness_check("dirac_gan", "alternating", "modified", expected=3, points=2)
    after = users_float32_computation()
    assert before.dtype == after.dtype == jnp.float32
    assert np.asarray(before).tobytes() == np.asarray(after).tobytes()
    # errors far below float32 resolution (eps 1.2e-7), and the third-order slope: measured in float64
    assert result.measurement.errors.dtype == np.float64 and np.nanmin(result.measurement.errors) < 1e-8


def test_the_command_line_and_the_catalog_leave_the_precision_alone():
    from harness.cli import main
    from harness.model.catalog import catalog

    assert main(["check", "--game", "rosenbrock", "--scheme", "gd", "--flow", "igr", "--points", "2", "--quiet"]) == 0
    assert catalog()["quadratic_objective"].z0.dtype == np.float64
    assert jnp.zeros(()).dtype == jnp.float32 and not jax.config.jax_enable_x64


def test_an_internal_called_outside_the_entry_points_refuses_float32():
    game = harness.load("rosenbrock")
    with pytest.raises(RuntimeError, match="computes in float64"):
        measure_local_error(game, Scheme("gd"), Flow("igr"), np.array([1e-3, 2e-3]), game.z0[None, :])


def test_run_check_measures_in_float64_from_any_thread():
    from concurrent.futures import ThreadPoolExecutor

    spec = CheckSpec("rosenbrock", Scheme("gd"), Flow("igr"))
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(run_check, harness.load("rosenbrock"), spec, Settings(points=2)).result()
    assert result.passed and abs(result.fit.slope - 3) < 0.15
