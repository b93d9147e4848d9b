"""Trajectories over many steps, for the phase-plane figure of a report.

From the default state z0 of a game, with rates alpha = lambda = 1 (m = k = 1, phi first):
- discrete iterates z_{n+1} = Phi_h(z_n) of simultaneous and alternating GD (plain GD for a single
  objective), n = 0 ... STEPS;
- the gradient flow and each update rule's first-order modified flow (joint convention; IGR for a
  single objective), sampled at times n h / SAMPLES_PER_STEP, each interval solved by the reference
  integrator (harness.base.integrate: expm for affine fields, Dopri8 otherwise).

The step size is h = DRIFT / |dF/dz| at z0, large enough for the drift to show. Each trajectory is one
compiled ``lax.scan``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.integrate import reference_solution
from harness.base.result_cache import kept
from harness.flows import Flow, flow_field
from harness.measure import jacobian_norm
from harness.model.game import Game
from harness.model.identity import result_key
from harness.rules.schemes import Scheme, update_rule

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


def iterate(step: Callable, z0: np.ndarray, count: int) -> np.ndarray:
    """[z0, step(z0), step(step(z0)), ...]: ``count + 1`` states, in one compiled scan."""

    def body(z, _):
        z = step(z)
        return z, z

    run = jit(lambda z: jax.lax.scan(body, z, None, length=count)[1])
    return np.vstack([z0[None, :], np.asarray(run(jnp.asarray(z0)))])


def flow_path(game: Game, flow: Flow, scheme: Scheme, h: float, steps: int) -> np.ndarray:
    """The flow from z0 over time ``steps * h``, sampled ``SAMPLES_PER_STEP`` times per step."""
    field, affine = flow_field(game, flow, scheme), game.is_affine()
    dt = h / SAMPLES_PER_STEP
    step = lambda z: reference_solution(lambda x: field(x, h), z, dt, affine)[0]  # noqa: E731
    return iterate(step, game.z0, steps * SAMPLES_PER_STEP)


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
        rule = update_rule(game, scheme)
        values += [iterate(lambda z, rule=rule: rule(z, h), game.z0, steps),
                   flow_path(game, Flow(modified), scheme, h, steps)]
    return tuple(values)
