"""pytest-benchmark timings of the hot kernels, compiled before the timed rounds:

    python -m pytest benchmarks/test_hot_kernels.py --benchmark-only

- one batched local-error sweep (alternating GD against its modified flow, 4 points x 10 step sizes);
- one evaluation of an automatic modified field (bea order 2) on 64 states;
- one batched reference solve (Dopri8, N and 2N steps) of the modified flow from 64 states.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harness  # noqa: F401  (float64 on)
from harness.base.bea import modified_field
from harness.base.integrate import reference_solutions
from harness.flows import Flow, flow_field
from harness.measure import default_step_sizes, initial_points, measure_local_error
from harness.model.catalog import load_game
from harness.rules.schemes import Scheme, update_rule

GAME = "nonconvex_nonconcave"
SCHEME = Scheme("alternating", 1.0, 0.3)


@pytest.fixture(scope="module")
def game():
    return load_game(GAME)


@pytest.fixture(scope="module")
def states(game):
    return jnp.asarray(initial_points(game, 64, seed=1))


def _warm(function, *args):
    jax.block_until_ready(function(*args))  # compile outside the timed rounds
    return lambda: jax.block_until_ready(function(*args))


def test_local_error_sweep(benchmark, game):
    step_sizes, points = default_step_sizes(game, SCHEME), initial_points(game)
    run = _warm(lambda: measure_local_error(game, SCHEME, Flow("modified"), step_sizes, points).errors)
    errors = benchmark(run)
    assert np.all(errors > 0)


def test_modified_field_evaluation(benchmark, game, states):
    step = update_rule(game, SCHEME)
    field = jax.jit(jax.vmap(modified_field(lambda z, h: step(z, h), 2), in_axes=(0, None)))
    values = benchmark(_warm(field, states, 0.01))
    assert values.shape == states.shape and np.all(np.isfinite(values))


def test_reference_solve(benchmark, game, states):
    field = flow_field(game, Flow("modified"), SCHEME)
    h = jnp.full(states.shape[0], 0.01)
    solve = jax.jit(lambda z, t: reference_solutions(lambda x, h_row: field(x, h_row), z, t, t, affine=False))
    solution, error = benchmark(_warm(solve, states, h))
    assert np.all(error < 1e-12 * np.linalg.norm(solution, axis=1))
