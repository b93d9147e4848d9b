"""Local error of one update step against a flow, over a grid of step sizes and initial points.

    e(h, z0) = |Phi_h(z0) - phi_h(z0)|

with Phi_h the update rule and phi_h the flow's time-h map (reference solution, harness.integrate).
One compiled kernel per (game, scheme structure) serves every learning rate, flow coefficient matrix,
step size and initial point: all of those are traced arguments, batched with vmap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.flows import Flow, family_field, flow_family
from harness.game import Game, GameError
from harness.integrate import EPS, reference_solution
from harness.schemes import Scheme, update_map

FLOOR_FACTOR = 1000.0
"""Errors below FLOOR_FACTOR * eps * |z| are treated as round-off (about 2.2e-13 |z|)."""


@dataclass
class Measurement:
    """Errors e[point, step size] with their reference-error estimates and round-off floors."""

    step_sizes: np.ndarray
    points: np.ndarray
    errors: np.ndarray
    reference_error: np.ndarray
    floor: np.ndarray
    reference: str


def initial_points(game: Game, count: int = 4, seed: int = 0, spread: float = 0.1) -> np.ndarray:
    """The default state, then ``count - 1`` seeded points z0 + spread (1 + |z0|) * N(0, 1)."""
    if count < 1:
        raise GameError(f"the number of initial points must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    z0 = game.z0
    noise = rng.standard_normal((count - 1, z0.size))
    return np.vstack([z0[None, :], z0 + spread * (1.0 + np.abs(z0)) * noise])


@functools.cache
def _power_step(game: Game):
    a, b = game.dims

    def power(v, z0, rates):
        scale = jnp.concatenate([jnp.full(a, rates[0]), jnp.full(b, rates[1])])
        scaled = lambda z: scale * game.field(z)  # noqa: E731
        w = jax.vjp(scaled, z0)[1](jax.jvp(scaled, (z0,), (v,))[1])[0]
        return w / (jnp.linalg.norm(w) + 1e-300), jnp.linalg.norm(w)

    return jax.jit(power)


@functools.cache
def jacobian_norm(game: Game, scheme: Scheme, iterations: int = 30) -> float:
    """Estimate of the spectral norm of dF/dz at z0 for F = (alpha f, lambda g), by power iteration on
    J^T J with one JVP and one VJP per iteration (no Jacobian is formed)."""
    power = _power_step(game)
    z0, rates = jnp.asarray(game.z0), jnp.array([scheme.lr1, scheme.lr2])
    v = jnp.asarray(np.random.default_rng(0).standard_normal(z0.size))
    v = v / jnp.linalg.norm(v)
    sigma2 = 0.0
    for _ in range(iterations):
        v, sigma2 = power(v, z0, rates)
    return float(np.sqrt(sigma2))


def default_step_sizes(game: Game, scheme: Scheme, count: int = 10, decades: float = 1.5) -> np.ndarray:
    """A geometric grid of ``count`` step sizes over ``decades`` decades, ending at h_max.

    h_max is the game's ``h_max`` metadata if set, else 0.1 / |dF/dz| at the default state, so that
    h |dF/dz| <= 0.1 over the grid whatever the game's time scale.
    """
    if count < 3:
        raise GameError(f"at least 3 step sizes are needed for a fit, got {count}")
    if not decades > 0:
        raise GameError(f"the step-size range must span a positive number of decades, got {decades}")
    h_max = game.metadata.get("h_max")
    if h_max is None:
        scale = jacobian_norm(game, scheme)
        h_max = 0.1 / scale if scale > 0 else 0.1
    return float(h_max) * np.logspace(-decades, 0.0, count)


@functools.cache
def _kernel(game: Game, structure: tuple, multistep: bool, affine: bool, family: str):
    step = update_map(game, structure)
    field = family_field(game, structure, family)

    def one(z0, h, params, coefficients):
        def flow(z, t):
            return reference_solution(lambda x: field(x, h, params, coefficients), z, t, affine)

        if multistep:  # start the previous state on the flow being checked
            z_prev, prev_error = flow(z0, -h)
            stepped = step(jnp.concatenate([z0, z_prev]), h, params)[: z0.size]
        else:
            prev_error, stepped = 0.0, step(z0, h, params)
        flowed, reference_error = flow(z0, h)
        scale = jnp.maximum(jnp.linalg.norm(z0), jnp.linalg.norm(stepped))
        return jnp.linalg.norm(stepped - flowed), reference_error + prev_error, FLOOR_FACTOR * EPS * scale

    over_steps = jax.vmap(one, in_axes=(None, 0, None, None))
    return jax.jit(jax.vmap(over_steps, in_axes=(0, None, None, None)))


def measure_local_error(
    game: Game, scheme: Scheme, flow: Flow, step_sizes: np.ndarray, points: np.ndarray,
    coefficients: tuple | None = None,
) -> Measurement:
    """Local errors of ``scheme`` against ``flow`` for every (initial point, step size), batched.

    Multistep rules start from (z0, z_prev) with z_prev the flow's solution at time -h from z0.
    ``coefficients`` = (s, c) replaces a closed-form flow's own (harness.flows): a deliberately wrong flow,
    to test the checker itself."""
    step_sizes = np.asarray(step_sizes, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    if step_sizes.ndim != 1 or not np.all(np.isfinite(step_sizes)) or np.any(step_sizes <= 0):
        raise GameError("step sizes must be a 1-D array of positive finite numbers")
    if points.ndim != 2 or points.shape[1] != game.z0.size:
        raise GameError(f"initial points must have shape (count, {game.z0.size}), got {points.shape}")
    family, own = flow_family(flow, scheme)
    coefficients = own if coefficients is None else tuple(jnp.asarray(x) for x in coefficients)
    # expm needs the field's Jacobian, which is costly to compile through the nested derivatives of bea
    # fields: those are integrated with Dopri8 even on affine games (its error estimate is recorded).
    affine = game.is_affine() and not flow.automatic
    kernel = _kernel(game, scheme.structure, scheme.multistep, affine, family)
    errors, reference_error, floor = (np.asarray(x) for x in kernel(points, step_sizes, scheme.params, coefficients))
    return Measurement(step_sizes, points, errors, reference_error, floor, "expm" if affine else "dopri8")
