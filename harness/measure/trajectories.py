"""Trajectories over many steps, for the phase-plane figure of a report.

From the default state z0 of a game, with rates alpha = lambda = 1 (m = k = 1, phi first):
- discrete iterates z_{n+1} = Phi_h(z_n) of simultaneous and alternating GD (plain GD for a single
  objective), n = 0 ... STEPS;
- the gradient flow and each update rule's first-order modified flow (joint convention; IGR for a
  single objective), sampled at times n h / SAMPLES_PER_STEP, each interval solved by the reference
  integrator (harness.base.integrate: expm for affine fields, Dopri8 otherwise).

The step size is h = DRIFT / |dF/dz| at z0, large enough for the drift to show. Each trajectory is one
compiled ``lax.scan`` (harness.measure.orbits) on the rules' kernel structure: one program per game for the
iterates of simultaneous and alternating GD, one for the gradient and modified flows.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from harness.base.result_cache import kept
from harness.flows import Flow, flow_family
from harness.measure import jacobian_norm
from harness.measure.orbits import flow_orbit, rule_orbit
from harness.model.game import Game
from harness.model.identity import result_key
from harness.rules.schemes import Scheme

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


def iterates(game: Game, scheme: Scheme, h: float, steps: int) -> np.ndarray:
    """[z0, z1, ..., z_steps]: the rule's iterates from z0 with step size h."""
    program = rule_orbit(game, scheme.kernel_structure(game, False), steps)
    return np.vstack([game.z0[None, :], np.asarray(program(jnp.asarray(game.z0), h, scheme.params))])


def flow_path(game: Game, flow: Flow, scheme: Scheme, h: float, steps: int) -> np.ndarray:
    """The flow from z0 over time ``steps * h``, sampled ``SAMPLES_PER_STEP`` times per step."""
    family, coefficients = flow_family(flow, scheme)
    program = flow_orbit(game, scheme.kernel_structure(game, False), family, game.is_affine(), steps,
                         SAMPLES_PER_STEP)
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
