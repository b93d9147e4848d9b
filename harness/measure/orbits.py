"""Long paths in one compiled ``lax.scan``: a rule's iterates and a flow's samples, for the phase planes
(harness.measure.trajectories) and the invariants' drift (harness.measure.invariants).

Each program traces its step size, rates and flow coefficients, so that it serves every rule of one structure
(``Scheme.structure``, or ``kernel_structure``: simultaneous and alternating GD on a two-player game) and every flow
of one family (harness.flows.flow_family: the gradient flow and the rules' closed-form modified flows)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax

from harness.base.compiler import jit
from harness.base.integrate import reference_solution
from harness.flows import Family, UserFamily, family_field
from harness.model.game import Game
from harness.rules.schemes import update_map


def _scan(step: Callable, z0: jax.Array, count: int) -> jax.Array:
    """[step(z0), step(step(z0)), ...]: ``count`` states."""

    def body(z, _):
        z = step(z)
        return z, z

    return jax.lax.scan(body, z0, None, length=count)[1]


@functools.cache
def rule_orbit(game: Game, structure: tuple, steps: int) -> Callable:
    """Compiled ``(z0, h, params) -> [steps, n]``: z_1 ... z_steps of the rule ``structure`` with step size h."""
    step = update_map(game, structure)
    return jit(lambda z0, h, params: _scan(lambda z: step(z, h, params), z0, steps))


@functools.cache
def flow_orbit(game: Game, structure: tuple, family: Family | UserFamily, affine: bool, steps: int,
               samples_per_step: int = 1) -> Callable:
    """Compiled ``(z0, h, params, coefficients) -> [steps * samples_per_step, n]``: the flow of step size h
    sampled every h / samples_per_step from z0, each interval solved by the reference integrator (expm when
    ``affine``, else Dopri8)."""
    field = family_field(game, structure, family)

    def run(z0, h, params, coefficients):
        flow = lambda x: field(x, h, params, coefficients)  # noqa: E731
        interval = h / samples_per_step
        return _scan(lambda z: reference_solution(flow, z, interval, affine)[0], z0, steps * samples_per_step)

    return jit(run)
