"""Linear stability at an equilibrium z* (F(z*) = 0): the update map against the flows (docs/theory.md §5 items 7-8).

- Update rule: M = dPhi_h/dz at z* (``jax.jacfwd`` of ``harness.rules.schemes.update_map``; multistep rules on the
  lifted state (z*, z*)). The iterates near z* diverge when the spectral radius rho(M) = max |eig M| > 1,
  converge when rho(M) < 1 and cycle (bounded, neither) when rho(M) = 1.
- Flow: J = d(field)/dz at z* (``jax.jacfwd`` of the flow's field, ``harness.flows.family_field``). The flow
  predicts divergence when max Re eig J > 0, convergence when it is < 0, cycles when it is 0; tr J is the sum
  of the eigenvalues (the paper's criterion for a 2 x 2 Jacobian with complex eigenvalues).
- Stability map: the same over a grid of (alpha h, lambda h). One step and every flow's time-h map depend
  on alpha, lambda and h only through alpha h and lambda h (multiply the field by h), so the map is computed
  at h = 1 with alpha and lambda set to the grid values.

A game declares its equilibrium with the metadata ``equilibrium=[...]`` (the joint state (phi*, theta*)), or
one is passed as ``z_star``; it must be a zero of the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.errors import FlowError, GameError, HarnessError, RuleError, UsageError
from harness.flows import CLOSED_FORM, Flow, family_field, flow_coefficients, flow_family
from harness.model.game import Game
from harness.rules.base import Traced
from harness.rules.schemes import Scheme, update_map

TOLERANCE = 1e-10
"""|rho - 1| (update map) or |max Re eig| (flow, relative to the largest |eig|) at or below this is a cycle."""

CLASSES = ("converges", "cycles", "diverges")


def equilibrium(game: Game, z_star: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """z* given, else the game's ``equilibrium`` metadata; checked to be a zero of the field:
    |F(z*)| <= 1e-12 (1 + |z*|)."""
    if z_star is None:
        if "equilibrium" not in game.metadata:
            raise GameError(f"game {game.name!r} declares no equilibrium; add equilibrium=[...] to the Game or "
                            "pass z_star")
        z_star = game.metadata["equilibrium"]
    point = np.asarray(z_star, dtype=np.float64)
    if point.shape != game.z0.shape or not np.all(np.isfinite(point)):
        raise GameError(f"game {game.name!r}: the equilibrium must be {game.z0.size} finite numbers (phi, theta), "
                        f"got {np.asarray(z_star).tolist()}")
    residual = float(np.linalg.norm(np.asarray(game.field(jnp.asarray(point)))))
    if residual > 1e-12 * (1.0 + float(np.linalg.norm(point))):
        raise GameError(f"game {game.name!r}: {point.tolist()} is not an equilibrium (|F| = {residual:.3g})")
    return point


def lifted_point(scheme: Scheme, point: jax.Array) -> jax.Array:
    """The state a rule steps at the equilibrium ``point``: (z*, z*) for ogda and heavy_ball; RuleError for
    per-player optimizers (their step count and normalised buffers are not a linear map's state)."""
    if scheme.optimizers is not None:
        raise RuleError(f"stability maps cover rules without optimizer buffers, not {scheme.label}")
    return jnp.concatenate([point, point]) if scheme.lifted else point


def update_jacobian(game: Game, scheme: Scheme, h: float, z_star=None) -> np.ndarray:
    """M = dPhi_h/dz at z* (for a multistep rule, the Jacobian of the lifted map at (z*, z*))."""
    point = lifted_point(scheme, jnp.asarray(equilibrium(game, z_star)))
    step = update_map(game, scheme.structure)
    return np.asarray(jax.jacfwd(lambda z: step(z, h, scheme.params))(point))


def flow_jacobian(game: Game, flow: Flow, scheme: Scheme, h: float, z_star=None) -> np.ndarray:
    """J = d(field)/dz at z* for ``flow`` of ``scheme`` (the field at step size h)."""
    point = jnp.asarray(equilibrium(game, z_star))
    family, coefficients = flow_family(flow, scheme)
    field = family_field(game, scheme.structure, family)
    return np.asarray(jax.jacfwd(lambda z: field(z, h, scheme.params, coefficients))(point))


def spectral_radius(matrix: np.ndarray) -> float:
    """rho(M) = max |eig M|."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def spectral_radii(game: Game, scheme: Scheme, step_sizes: np.ndarray, z_star=None) -> np.ndarray:
    """rho(M(h)) of the update map at z* for each step size h (batched: one compiled vmap over h)."""
    point = lifted_point(scheme, jnp.asarray(equilibrium(game, z_star)))
    step, params = update_map(game, scheme.structure), scheme.params
    jacobians = jit(jax.vmap(lambda h: jax.jacfwd(lambda z: step(z, h, params))(point)))(
        jnp.asarray(step_sizes, dtype=jnp.float64))
    return np.max(np.abs(np.linalg.eigvals(np.asarray(jacobians))), axis=-1)


def discrete_class(radius: float | np.ndarray) -> np.ndarray:
    """0 converges (rho < 1), 1 cycles (|rho - 1| <= TOLERANCE), 2 diverges (rho > 1); index into CLASSES."""
    radius = np.asarray(radius)
    return np.where(radius > 1 + TOLERANCE, 2, np.where(radius < 1 - TOLERANCE, 0, 1))


def flow_class(eigenvalues: np.ndarray) -> np.ndarray:
    """0 converges (max Re eig < 0), 1 cycles (|max Re eig| <= TOLERANCE max |eig|), 2 diverges; the last axis
    holds the eigenvalues."""
    growth = np.max(eigenvalues.real, axis=-1)
    scale = TOLERANCE * np.maximum(np.max(np.abs(eigenvalues), axis=-1), 1e-300)
    return np.where(growth > scale, 2, np.where(growth < -scale, 0, 1))


@dataclass
class FlowStability:
    """A flow's Jacobian at z*: its trace, eigenvalues and what they predict (one of CLASSES)."""

    trace: float
    eigenvalues: np.ndarray
    prediction: str


@dataclass
class Stability:
    """The update map's Jacobian at z* (spectral radius, determinant, trace, behaviour) and each flow's."""

    game: str
    scheme: Scheme
    h: float
    radius: float
    determinant: float
    trace: float
    behaviour: str
    flows: dict[str, FlowStability]


def analyse(game: Game, scheme: Scheme, h: float, flows: Sequence[str] = ("gradient", "modified", "official"),
            z_star=None) -> Stability:
    """Spectral radius, determinant and trace of the update map at z*, and trace and eigenvalues of each flow
    that exists for ``scheme`` (an ``official`` flow is skipped for rules that have none)."""
    jacobian = update_jacobian(game, scheme, h, z_star)
    radius = spectral_radius(jacobian)
    results = {}
    for name in flows:
        try:
            matrix = flow_jacobian(game, Flow(name), scheme, h, z_star)
        except HarnessError:
            if name == "official":
                continue
            raise
        eigenvalues = np.linalg.eigvals(matrix)
        results[name] = FlowStability(float(np.trace(matrix)), eigenvalues, CLASSES[int(flow_class(eigenvalues))])
    return Stability(game.name, scheme, h, radius, float(np.linalg.det(jacobian)), float(np.trace(jacobian)),
                     CLASSES[int(discrete_class(radius))], results)


@dataclass
class StabilityMap:
    """Classes (0 converges, 1 cycles, 2 diverges) over the grid alpha h = x[j], lambda h = y[i]: ``discrete``
    for the update rule, ``flows[name]`` for each flow's prediction; ``radius`` is rho(M) on the grid."""

    game: str
    scheme: Scheme
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    discrete: np.ndarray
    flows: dict[str, np.ndarray]

    def agreement(self, flow: str) -> float:
        """The fraction of grid points where ``flow`` predicts the update rule's behaviour."""
        return float(np.mean(self.flows[flow] == self.discrete))


def stability_map(game: Game, scheme: Scheme, x: np.ndarray, y: np.ndarray,
                  flows: Sequence[str] = ("gradient", "modified", "official"), z_star=None) -> StabilityMap:
    """The classes of the update rule ``scheme`` (its structure and other parameters; its rates are replaced
    by the grid values) and of each of its ``flows`` over alpha h in ``x`` and lambda h in ``y``, at h = 1."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.size == 0 or y.size == 0 or np.any(x <= 0) or np.any(y <= 0):
        raise UsageError("a stability map needs two non-empty 1-D grids of positive alpha h and lambda h")
    point = jnp.asarray(equilibrium(game, z_star))
    grid = [replace(scheme, lr1=float(a), lr2=float(b)) for b in y for a in x]
    params = jax.tree.map(jnp.asarray, Traced.stack([s.param_values for s in grid]))
    lifted = lifted_point(scheme, point)
    step = update_map(game, scheme.structure)
    jacobians = jit(jax.vmap(lambda p: jax.jacfwd(lambda z: step(z, 1.0, p))(lifted)))(params)
    radius = np.max(np.abs(np.linalg.eigvals(np.asarray(jacobians))), axis=-1).reshape(y.size, x.size)
    field = family_field(game, scheme.structure, CLOSED_FORM)
    flow_jacobians = jit(jax.vmap(lambda p, c: jax.jacfwd(lambda z: field(z, 1.0, p, c))(point)))
    classes = {}
    for name in flows:
        flow = Flow(name)
        if flow.automatic:
            raise FlowError(f"a stability map takes closed-form flows (gradient, modified, official), not {name}")
        try:
            leads, matrices = zip(*(flow_coefficients(flow, s) for s in grid), strict=True)
        except HarnessError:
            if name == "official":
                continue
            raise
        jac = flow_jacobians(params, (jnp.asarray(np.array(leads)), jnp.asarray(np.stack(matrices))))
        eigenvalues = np.linalg.eigvals(np.asarray(jac))
        classes[name] = flow_class(eigenvalues).reshape(y.size, x.size)
    return StabilityMap(game.name, scheme, x, y, radius, discrete_class(radius), classes)


def map_grid(game: Game, count: int = 64, decades: float = 2.0, z_star=None) -> np.ndarray:
    """A geometric grid of ``count`` values of alpha h (or lambda h) over ``decades`` decades ending at
    4 / |dF/dz| at z* (F the raw field (f, g); spectral norm)."""
    point = jnp.asarray(equilibrium(game, z_star))
    norm = float(np.linalg.norm(np.asarray(jax.jacfwd(game.field)(point)), 2))
    if norm == 0:
        raise GameError(f"game {game.name!r}: the field's Jacobian vanishes at the equilibrium; no time scale")
    return (4.0 / norm) * np.logspace(-decades, 0.0, count)
