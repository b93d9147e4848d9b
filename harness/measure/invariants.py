"""Conserved quantities: their drift along the discrete iterates and along each flow (docs/theory.md §5 item 7).

A game declares invariants with the metadata ``invariants={"Q": Q}``, each a plain JAX function
``Q(phi, theta, alpha, lam, h) -> scalar`` of the players' parameters, the relative learning rates and the
step size (a quantity that does not depend on them ignores those arguments). For example the bilinear
Dirac-GAN E = c phi theta declares Q = phi^2/alpha + theta^2/lambda - h c phi theta, which alternating GD
(phi first) conserves exactly.

The drift of Q along a path z_0, z_1, ... is Q(z_n) - Q(z_0): along the iterates z_{n+1} = Phi_h(z_n), and
along each flow sampled at the times n h (each interval solved by the reference integrator,
harness.base.integrate: exact for affine fields, Dopri8 with its error estimate otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.errors import GameError, RuleError
from harness.flows import Flow, flow_family
from harness.measure.orbits import flow_orbit, rule_orbit
from harness.model.game import Game
from harness.rules.schemes import Scheme


def declared(game: Game) -> dict[str, Callable]:
    """The game's invariants (name -> Q(phi, theta, alpha, lam, h)); empty when it declares none."""
    table = game.metadata.get("invariants", {})
    if not isinstance(table, dict) or not all(isinstance(k, str) and callable(v) for k, v in table.items()):
        raise GameError(f"game {game.name!r}: invariants must be a dict of name -> Q(phi, theta, alpha, lam, h)")
    return dict(table)


def evaluate(game: Game, name: str, path: np.ndarray, scheme: Scheme, h: float) -> np.ndarray:
    """Q(z) for each row z of ``path`` ([time, state]) at the scheme's rates and step size h."""
    quantity = declared(game).get(name)
    if quantity is None:
        raise GameError(f"game {game.name!r} declares no invariant {name!r}")
    a = game.dims[0]
    values = jax.vmap(lambda z: quantity(z[:a], z[a:], scheme.lr1, scheme.lr2, h))(jnp.asarray(path))
    if values.shape != (len(path),):
        raise GameError(f"game {game.name!r}: invariant {name!r} must return a scalar")
    return np.asarray(values, dtype=np.float64)


def iterates(game: Game, scheme: Scheme, h: float, steps: int, z0: np.ndarray | None = None) -> np.ndarray:
    """[z_0, ..., z_steps] of the update rule (one-step rules), in one compiled scan (one compile per game,
    rule structure and number of steps)."""
    if scheme.lifted:
        raise RuleError(f"invariant drift needs a one-step update rule; {scheme.label} is multistep (it has memory)")
    start = game.z0 if z0 is None else np.asarray(z0, dtype=np.float64)
    path = rule_orbit(game, scheme.structure, steps)(jnp.asarray(start), h, scheme.params)
    return np.vstack([start[None, :], np.asarray(path)])


def flow_samples(game: Game, flow: Flow, scheme: Scheme, h: float, steps: int,
                 z0: np.ndarray | None = None) -> np.ndarray:
    """The flow at times 0, h, ..., steps h from z0, each interval solved by the reference integrator (one
    compile per game, rule structure, flow family and number of steps)."""
    family, coefficients = flow_family(flow, scheme)
    start = game.z0 if z0 is None else np.asarray(z0, dtype=np.float64)
    run = flow_orbit(game, scheme.structure, family, game.is_affine(), steps)
    return np.vstack([start[None, :], np.asarray(run(jnp.asarray(start), h, scheme.params, coefficients))])


@dataclass
class InvariantDrift:
    """max_n |Q(z_n) - Q(z_0)| over ``steps`` steps of size h for one invariant and one update rule: along
    the iterates and along each flow; ``series`` holds the drift Q(z_n) - Q(z_0) per path."""

    game: str
    invariant: str
    scheme: Scheme
    h: float
    steps: int
    initial: float
    iterates: float
    flows: dict[str, float]
    series: dict[str, np.ndarray]


def invariant_drift(game: Game, name: str, scheme: Scheme, h: float, steps: int,
                    flows: Sequence[str] = ("gradient", "modified"), z0: np.ndarray | None = None) -> InvariantDrift:
    """The drift of invariant ``name`` along ``scheme``'s iterates and along each of ``flows``."""
    paths = {"iterates": iterates(game, scheme, h, steps, z0)}
    for flow in flows:
        paths[flow] = flow_samples(game, Flow(flow), scheme, h, steps, z0)
    series = {}
    for label, path in paths.items():
        values = evaluate(game, name, path, scheme, h)
        series[label] = values - values[0]
    worst = {label: float(np.max(np.abs(d))) for label, d in series.items()}
    initial = float(evaluate(game, name, paths["iterates"][:1], scheme, h)[0])
    return InvariantDrift(game.name, name, scheme, h, steps, initial, worst.pop("iterates"), worst, series)
