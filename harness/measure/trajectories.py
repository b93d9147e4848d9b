"""Trajectories over many steps, for the phase-plane figure of a report.

From the default state z0 of a game, with rates alpha = lambda = 1 (m = k = 1, phi first):
- discrete iterates z_{n+1} = Phi_h(z_n) of simultaneous and alternating GD (plain GD for a single
  objective), n = 0 ... STEPS;
- the gradient flow and each update rule's first-order modified flow (joint convention; IGR for a
  single objective), sampled at times n h / SAMPLES_PER_STEP, each interval solved by the reference
  integrator (harness.base.integrate: expm for affine fields, Dopri8 otherwise).

The step size is h = DRIFT / |dF/dz| at z0, large enough for the drift to show. Each trajectory is one
compiled ``lax.scan``, its step size and rates traced: one program per game for the iterates of rules of
one kernel structure, one for the flows of one family.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.integrate import reference_solution
from harness.base.result_cache import kept
from harness.flows import Flow, family_field, flow_family
from harness.measure import jacobian_norm
from harness.model.game import Game
from harness.model.identity import result_key
from harness.rules.schemes import Scheme, update_map

DRIFT = 0.2
STEPS = 80
SAMPLES_PER_STEP = 4


@dataclass
class Panel:
    """One update rule's iterates and the flows drawn against them; arrays are [time, state]."""

    scheme: Scheme
    iterates: np.ndarray
    flows: dict[str, np.ndarray]


@dataclass
class Trajectories:
    game: str
    h: float
    steps: int
    panels: list[Panel]


def _scan(step: Callable, z0: jax.Array, count: int) -> jax.Array:
    """[step(z0), step(step(z0)), ...]: ``count`` states."""

    def body(z, _):
        z = step(z)
        return z, z

    return jax.lax.scan(body, z0, None, length=count)[1]


@functools.cache
def _iterates_program(game: Game, structure: tuple, count: int) -> Callable:
    """Compiled ``(z0, h, params) -> count`` iterates of the rule ``structure``: one program for every rule that
    shares a kernel structure (simultaneous and alternating GD on a two-player game, Scheme.kernel_structure)."""
    step = update_map(game, structure)
    return jit(lambda z0, h, params: _scan(lambda z: step(z, h, params), z0, count))


@functools.cache
def _flow_program(game: Game, structure: tuple, family, count: int) -> Callable:
    """Compiled ``(z0, h, params, coefficients) -> count`` samples of a flow family's path, one every
    h / SAMPLES_PER_STEP, each interval solved by the reference integrator: one program for the gradient flow and
    every rule's closed-form modified flow (harness.flows.flow_family)."""
    field, affine = family_field(game, structure, family), game.is_affine()

    def path(z0, h, params, coefficients):
        flow = lambda x: field(x, h, params, coefficients)  # noqa: E731
        return _scan(lambda z: reference_solution(flow, z, h / SAMPLES_PER_STEP, affine)[0], z0, count)

    return jit(path)


def iterates(game: Game, scheme: Scheme, h: float, steps: int) -> np.ndarray:
    """[z0, z1, ..., z_steps]: the rule's iterates from z0 with step size h."""
    program = _iterates_program(game, scheme.kernel_structure(game, False), steps)
    return np.vstack([game.z0[None, :], np.asarray(program(jnp.asarray(game.z0), h, scheme.params))])


def flow_path(game: Game, flow: Flow, scheme: Scheme, h: float, steps: int) -> np.ndarray:
    """The flow from z0 over time ``steps * h``, sampled ``SAMPLES_PER_STEP`` times per step."""
    family, coefficients = flow_family(flow, scheme)
    program = _flow_program(game, scheme.kernel_structure(game, False), family, steps * SAMPLES_PER_STEP)
    samples = program(jnp.asarray(game.z0), h, scheme.params, coefficients)
    return np.vstack([game.z0[None, :], np.asarray(samples)])


def trajectories(game: Game, steps: int = STEPS, drift: float = DRIFT) -> Trajectories:
    """Iterates and flows of the module docstring for ``game``, kept across runs (harness.base.result_cache) by
    the game's fingerprint, ``steps`` and ``drift``."""
    if game.kind == "single-objective":
        schemes, modified = [Scheme("gd")], "igr"
    else:
        schemes, modified = [Scheme("simultaneous"), Scheme("alternating")], "modified"
    key = result_key("trajectories", game, steps, repr(float(drift)))
    h, gradient, *paths = kept(key, lambda: _computed(game, schemes, modified, steps, drift))
    panels = [Panel(scheme, iterates, {"gradient": gradient, modified: flowed})
              for scheme, iterates, flowed in zip(schemes, paths[::2], paths[1::2], strict=True)]
    return Trajectories(game.name, float(h), steps, panels)


def _computed(game: Game, schemes: list[Scheme], modified: str, steps: int, drift: float) -> tuple:
    """(h, the gradient flow's path, then per scheme its iterates and its modified flow's path)."""
    scale = jacobian_norm(game, schemes[0])
    h = drift / scale if scale > 0 else drift
    values = [h, flow_path(game, Flow("gradient"), schemes[0], h, steps)]
    for scheme in schemes:
        values += [iterates(game, scheme, h, steps), flow_path(game, Flow(modified), scheme, h, steps)]
    return tuple(values)
