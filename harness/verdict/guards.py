"""Guards around a measurement: inputs that would give a silently wrong number, and traps to name.

Before measuring (``before_measuring``):
- the field must be finite at every initial point (a loss undefined there is bad input: GameError);
- an initial point where the field vanishes (an equilibrium: the errors are exactly 0 there) is left out,
  with a note; when every point is one, GameError;
- the losses and the field must be pure functions: two separately traced programs must agree at the initial
  points (a loss that draws Python or numpy random numbers, or reads global state, at trace time is a
  different function on every trace: GameError);
- a field judged affine (solved by expm) must also be affine along the measured steps: a piecewise-affine
  field (ReLU, abs) has a zero second derivative almost everywhere and can fool ``Game.is_affine``; the
  secant F(z1) - F(z0) is compared with J(z0)(z1 - z0), and a mismatch has the check solved with Dopri8.

After fitting (``after_fit``):
- steps outside the asymptotic range: when the largest step reaches h |dF/dz| > 1, the verdict says so,
  with the default rule's h_max (no order theory holds there, and no kink is claimed there);
- non-finite errors: a field that is NaN or inf at a finite state within one step of an initial point (the
  loss is not defined along the flow) is bad input (GameError); otherwise the update or the flow diverged,
  which the fit reports (DIVERGED, or the errors dropped and counted);
- non-smooth fields: when the fit did not pass cleanly, the segments z0 -> z0 + h V(z0) of the measured
  (point, step size) pairs are tested with the fundamental theorem of calculus, for the field and for its
  Jacobian, with autodiff derivatives and Gauss-Legendre quadrature:

      F(z0 + d) - F(z0)     = integral_0^1 J(z0 + s d) d ds
      J(z0 + d) v - J(z0) v = integral_0^1 F''(z0 + s d)[d, v] ds

  Both hold to quadrature and round-off error for a smooth field. At a kink, autodiff's F'' (or J) misses
  the jump, so the identity fails by the size of the jump: the field is not smooth there, the order theory
  (which expands the field in Taylor series) does not apply, and the verdict says so. A kink is claimed only
  when a refined quadrature (4 sub-segments) confirms the defect: the jump does not shrink with refinement,
  the defect of a smooth but unresolved integrand does.

Segments use h V(z0) (V = (alpha f, lambda g)), the first-order part of both the update and the flow.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.bea import modified_coefficients
from harness.base.compiler import jit
from harness.base.errors import GameError, RuleError
from harness.base.integrate import EPS
from harness.base.result_cache import digest, kept
from harness.base.status import Status
from harness.model.game import Game, values_at, values_program
from harness.model.identity import add_trace, result_key
from harness.model.scaled_field import rates
from harness.model.user import UserFunction, evaluate, joint_function
from harness.rules.base import Traced
from harness.rules.schemes import update_map

SMOOTHNESS_TOLERANCE = 1e-3
"""Relative defect of the calculus identities above which a segment is taken to cross a kink."""
ROUND_OFF = 100.0
"""Round-off allowance, in units of eps times the magnitudes summed, before a defect counts."""
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(6)
_NODES, _WEIGHTS = (_NODES + 1.0) / 2.0, _WEIGHTS / 2.0  # on [0, 1]
_DIRECTIONS = 2


def _rates(game: Game, scheme) -> jnp.ndarray:
    return rates(game, scheme.lr1, scheme.lr2)


def _fmt(z) -> str:
    return "[" + ", ".join(f"{float(x):.4g}" for x in np.asarray(z).ravel()[:6]) + (
        ", …]" if np.asarray(z).size > 6 else "]")


def _values(game: Game, points: np.ndarray, program: Callable | None = None) -> dict[str, np.ndarray]:
    """{"loss1", "loss2" (those the game has), "the field": F = (f, g)} at ``points``, in that order, from the game's
    compiled values program (harness.model.game.values_at; ``program``: a freshly traced one)."""
    values = values_at(game, np.asarray(points), program)
    joint = np.concatenate([values.pop("field of player 1"), values.pop("field of player 2")], axis=1)
    return {**values, "the field": joint}


@functools.cache
def _pure(game: Game, points: tuple) -> None:
    kept(result_key("pure", game, digest(np.array(points))), lambda: _check_pure(game, np.array(points)))


def _check_pure(game: Game, points: np.ndarray) -> tuple:
    first, second = (_values(game, points, values_program(game)) for _ in range(2))
    for label in sorted(first, key=lambda label: label == "the field"):  # a loss names the cause before the field
        gap = float(np.max(np.abs(first[label] - second[label]), initial=0.0))
        if not gap <= 1e-12 * (float(np.max(np.abs(first[label]), initial=0.0)) + 1e-300):
            raise GameError(f"game {game.name!r}: {label} is not a pure function of (phi, theta): two evaluations at "
                            f"the same point differ by {gap:.3g}; remove Python/numpy randomness or global state from "
                            "it (use a fixed key or constant)")
    return ()


def check_pure(game: Game, points: np.ndarray) -> None:
    """GameError when the game's losses or field differ between two traces at the same initial points (a
    loss that reads Python or numpy randomness, or global state, at trace time); checked once per game and
    points, a pass kept across runs (harness.base.result_cache)."""
    _pure(game, tuple(map(tuple, np.asarray(points))))


EQUILIBRIUM = "an equilibrium: F(z0) = 0"
"""The words of the note that an initial point was left out (shown even beside a passing verdict)."""


def without_equilibria(game: Game, points: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The initial points where the field does not vanish, and a note for the fit's reasons when some did:
    at an equilibrium (F(z0) = 0) the update and every flow stay put, the errors are exactly 0 and carry
    no order. GameError when every initial point is one. Where F vanishes is kept across runs
    (harness.base.result_cache)."""
    (at_rest,) = kept(result_key("equilibria", game, digest(points)),
                      lambda: (~np.any(_values(game, points)["the field"] != 0, axis=1),))
    if not at_rest.any():
        return points, []
    advice = "move phi0/theta0 off it" if at_rest[0] else "use another --seed"
    if at_rest.all():
        raise GameError(f"game {game.name!r}: every initial point is an equilibrium (F(z0) = 0 there, so the errors "
                        f"are exactly 0 and carry no order); {advice}, or use --points 2 or more")
    where = "the default state is" if at_rest[0] and at_rest.sum() == 1 else f"{int(at_rest.sum())} initial points are"
    return points[~at_rest], [f"{where} {EQUILIBRIUM}, the errors are exactly 0 there; measured from the other "
                              f"{int((~at_rest).sum())} initial points ({advice})"]


def check_points(game: Game, points: np.ndarray, seed: int) -> None:
    """GameError if the field (or a loss) is NaN or inf at one of the initial points; a pass is kept across runs
    (harness.base.result_cache)."""
    kept(result_key("points", game, digest(points)), lambda: _check_points(game, points, seed))


def _check_points(game: Game, points: np.ndarray, seed: int) -> tuple:
    values = _values(game, points)
    for label, value in values.items():
        bad = ~np.isfinite(value.reshape(len(points), -1)).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            kind = "NaN" if np.isnan(value.reshape(len(points), -1)[i]).any() else "inf"
            where = "the default state" if i == 0 else f"a seeded point near it (seed {seed})"
            raise GameError(
                f"game {game.name!r}: {label} is {kind} at initial point {i + 1} of {len(points)}, {where}, "
                f"z0 = {_fmt(points[i])}: the loss is not defined there; move the default state away from "
                "where it is undefined, or use --points 1 or another --seed"
            )
    return ()


@functools.cache
def _secant_defect(game: Game):
    def one(z0, d):
        value, slope = jax.jvp(game.field, (z0,), (d,))
        secant = game.field(z0 + d) - value
        allowance = ROUND_OFF * EPS * (jnp.linalg.norm(value) + jnp.linalg.norm(secant) + jnp.linalg.norm(slope))
        scale = jnp.linalg.norm(secant) + jnp.linalg.norm(slope) + 1e-300
        return jnp.maximum(jnp.linalg.norm(secant - slope) - allowance, 0.0) / scale

    return jit(jax.vmap(one))


@functools.cache
def _smoothness_defect(game: Game):
    """Compiled ``(starts, moves, directions, nodes, weights) -> defect per segment`` of the two identities
    of the module docstring, with the quadrature rule given by ``nodes`` and ``weights`` on [0, 1]."""

    def one(z0, d, directions, nodes, weights):
        at = z0[None, :] + nodes[:, None] * d[None, :]
        jd = jax.vmap(lambda z: jax.jvp(game.field, (z,), (d,))[1])(at)
        value0, value1 = game.field(z0), game.field(z0 + d)
        residual = value1 - value0 - weights @ jd
        allowance = ROUND_OFF * EPS * (jnp.linalg.norm(value0) + jnp.linalg.norm(value1)
                                       + weights @ jnp.linalg.norm(jd, axis=1))
        scale = jnp.linalg.norm(value1 - value0) + weights @ jnp.linalg.norm(jd, axis=1) + 1e-300
        defects = [jnp.maximum(jnp.linalg.norm(residual) - allowance, 0.0) / scale]
        for v in directions:
            jv = lambda z, v=v: jax.jvp(game.field, (z,), (v,))[1]  # noqa: E731
            second = jax.vmap(lambda z, jv=jv: jax.jvp(jv, (z,), (d,))[1])(at)
            jump = jv(z0 + d) - jv(z0)
            residual = jump - weights @ second
            size = weights @ jnp.linalg.norm(second, axis=1)
            allowance = ROUND_OFF * EPS * (jnp.linalg.norm(jv(z0)) + jnp.linalg.norm(jv(z0 + d)) + size)
            defects.append(jnp.maximum(jnp.linalg.norm(residual) - allowance, 0.0)
                           / (jnp.linalg.norm(jump) + size + 1e-300))
        return jnp.max(jnp.stack(defects))

    return jit(jax.vmap(one, in_axes=(0, 0, None, None, None)))


_RULES = {"6 nodes": (_NODES, _WEIGHTS),
          "4 x 6 nodes": (np.concatenate([(_NODES + i) / 4 for i in range(4)]), np.tile(_WEIGHTS / 4, 4))}
"""The quadrature of the smoothness test, and the refined one that must confirm a kink."""
RESOLVED = 0.5
"""A kink is confirmed when the refined quadrature's defect is at least this share of the first one's: the
defect is the jump, which refining does not shrink (an unresolved smooth integrand's defect does shrink)."""
ASYMPTOTIC_LIMIT = 1.0
"""h |dF/dz| above which a step is outside the asymptotic range of the order theory."""


def _segments(game: Game, scheme, points: np.ndarray, step_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and displacement h V(z0) of every (point, step size) pair, as [points * step sizes, n]."""
    velocity = _values(game, points)["the field"] * np.asarray(_rates(game, scheme))
    starts = np.repeat(points, len(step_sizes), axis=0)
    moves = (velocity[:, None, :] * np.asarray(step_sizes)[None, :, None]).reshape(starts.shape)
    return starts, moves


@functools.cache
def _user_values(game: Game, user: UserFunction, keywords: tuple, points: tuple, h: float, params: Traced) -> None:
    def check() -> tuple:
        evaluate(user, game, keywords, np.array(points), h, params.arrays())
        return ()

    kept(_user_key(game, user, keywords, points, h, params), check)


def _user_key(game: Game, user: UserFunction, keywords: tuple, points: tuple, h: float, params: Traced) -> str | None:
    """The key of a user's function's pass (``check_user_functions``) kept across runs: its files' texts
    (``UserFunction.fingerprint``) and a fresh trace of it as evaluated, the keywords, points, step and parameters;
    None (not kept) for a second-order flow, or a function that cannot be traced or calls back into Python."""
    if user.second_order:
        return None
    traced = hashlib.sha256()
    try:
        add_trace(traced, joint_function(user, game, keywords), jnp.asarray(game.z0), h, params.arrays(), strict=True)
    except Exception:  # noqa: BLE001  evaluate says why
        return None
    return result_key("user", game, user.fingerprint(), traced.hexdigest(), keywords, digest(np.array(points)), h,
                      params)


@functools.cache
def _taylor_mode_traces(game: Game, structure: tuple) -> None:
    """RuleError when Taylor-mode autodiff (harness.base.bea) cannot go through a user's rule."""
    z = jnp.asarray(game.z0)
    try:
        jax.eval_shape(modified_coefficients(update_map(game, structure), 1), z, Traced.zeros())
    except KeyError as exc:  # jet has no rule for this primitive
        name = getattr(exc.args[0], "name", exc.args[0]) if exc.args else "?"
        raise RuleError(f"{structure[1].describe}: Taylor-mode autodiff (bea:P flows) has no rule for the operation "
                        f"{name!r} it uses; write it with jnp.where, jnp.concatenate and slices instead of "
                        "x.at[...].set/add, or check it against gradient or your own flow") from exc


def check_user_functions(game: Game, scheme, flow, points: np.ndarray, step_sizes: np.ndarray) -> None:
    """RuleError or FlowError (one line) when the user's rule or flow of a check cannot be traced, raises, returns the
    wrong structure, shape or dtype, or is NaN or inf at an initial point at the largest step size
    (harness.model.user.evaluate). Each (function, game, points, step) is evaluated once, a pass kept across runs
    (harness.base.result_cache)."""
    at = (tuple(map(tuple, np.asarray(points))), float(step_sizes[-1]), scheme.param_values)
    if scheme.name == "user":
        _user_values(game, scheme.user_rule, scheme.structure[2], *at)
        if flow.automatic:
            _taylor_mode_traces(game, scheme.structure)
    if flow.user is not None:
        _user_values(game, flow.user, flow.user.keywords_from(scheme), *at)


def before_measuring(game: Game, scheme, flow, points: np.ndarray, step_sizes: np.ndarray, seed: int
                     ) -> tuple[bool, list[str]]:
    """Check the initial points (GameError) and the user's functions (RuleError, FlowError) and confirm an affine
    field along the measured steps (kept across runs, harness.base.result_cache); return whether the check may
    solve its flows as affine, and notes for the fit's reasons."""
    check_points(game, points, seed)
    check_pure(game, points)
    check_user_functions(game, scheme, flow, points, step_sizes)
    if "linear" in game.metadata or not game.is_affine():
        return game.is_affine(), []
    (kinked,) = kept(result_key("secant", game, (scheme.lr1, scheme.lr2), digest(points, step_sizes)),
                     lambda: (_secant_kinked(game, scheme, points, step_sizes),))
    if not kinked:
        return True, []
    return False, ["the field looked affine (zero second derivative) but is not along the measured steps: it is "
                   "piecewise affine (a kink, e.g. ReLU or abs); solved with Dopri8 instead of expm"]


def _secant_kinked(game: Game, scheme, points: np.ndarray, step_sizes: np.ndarray) -> bool:
    """Whether the secant F(z1) - F(z0) departs from J(z0)(z1 - z0) along a measured step (a kink)."""
    starts, moves = _segments(game, scheme, points, step_sizes)
    defect = np.asarray(_secant_defect(game)(jnp.asarray(starts), jnp.asarray(moves)))
    return bool(np.any(defect > SMOOTHNESS_TOLERANCE))


def _defects(game: Game, starts: np.ndarray, moves: np.ndarray, rule: str) -> np.ndarray:
    directions = jnp.asarray(np.random.default_rng(0).standard_normal((_DIRECTIONS, game.z0.size)))
    nodes, weights = (jnp.asarray(x) for x in _RULES[rule])
    return np.asarray(_smoothness_defect(game)(jnp.asarray(starts), jnp.asarray(moves), directions, nodes, weights))


def non_smooth_reason(game: Game, scheme, points: np.ndarray, step_sizes: np.ndarray,
                      jacobian_norm: float | None = None) -> str | None:
    """A reason naming the kink when the field is not smooth along the measured steps, else None.

    Only steps inside the asymptotic range (h |dF/dz| <= ASYMPTOTIC_LIMIT, when ``jacobian_norm`` is given)
    are tested, and a defect counts only when the refined quadrature confirms it (RESOLVED): an unresolved
    test says nothing about smoothness. Kept across runs (harness.base.result_cache) by the game, the rates,
    the points, the step sizes and ``jacobian_norm``."""
    key = result_key("non-smooth", game, (scheme.lr1, scheme.lr2), digest(points, step_sizes), jacobian_norm)
    (reason,) = kept(key, lambda: (_non_smooth_reason(game, scheme, points, step_sizes, jacobian_norm) or "",))
    return str(reason) or None


def _non_smooth_reason(game: Game, scheme, points: np.ndarray, step_sizes: np.ndarray,
                       jacobian_norm: float | None) -> str | None:
    starts, moves = _segments(game, scheme, points, step_sizes)
    tested = np.isfinite(moves).all(axis=1)
    if jacobian_norm is not None:
        tested &= np.tile(np.asarray(step_sizes) * jacobian_norm <= ASYMPTOTIC_LIMIT, len(points))
    if not tested.any():
        return None
    defect = np.zeros(len(starts))
    defect[tested] = _defects(game, starts[tested], moves[tested], "6 nodes")
    suspect = defect > SMOOTHNESS_TOLERANCE
    if suspect.any():
        refined = _defects(game, starts[suspect], moves[suspect], "4 x 6 nodes")
        suspect[suspect] = (refined > SMOOTHNESS_TOLERANCE) & (refined >= RESOLVED * defect[suspect])
    kinked = suspect
    if not kinked.any():
        return None
    grid = kinked.reshape(len(points), len(step_sizes))
    smallest = float(np.min(np.asarray(step_sizes)[grid.any(axis=0)]))
    return (f"the field is not smooth (a kink, e.g. ReLU or abs: its Jacobian jumps) within "
            f"one step of {int(grid.any(axis=1).sum())} of {len(points)} initial points, at {int(grid.sum())} "
            f"of {grid.size} (point, step size) pairs (h >= {smallest:.3g}); the order theory assumes a smooth "
            "field, and the reference solver loses accuracy at a kink")


def check_non_finite(game: Game, scheme, points: np.ndarray, step_sizes: np.ndarray, errors: np.ndarray) -> None:
    """GameError when a non-finite error comes from a field that is NaN or inf at a finite state within one
    step of an initial point (the loss is undefined along the flow), not from a diverging update or flow."""
    bad = ~np.isfinite(errors)
    if not bad.any():
        return
    starts, moves = _segments(game, scheme, points, step_sizes)
    rows = np.flatnonzero(bad.ravel())
    fractions = np.linspace(0.0, 1.0, 17)
    for row in rows:
        z0, d = starts[row], moves[row]
        with np.errstate(over="ignore"):
            far = not np.all(np.isfinite(d)) or np.linalg.norm(d) > 1.0 + np.linalg.norm(z0)
        if far:
            continue  # a large step: divergence, reported by the fit
        states = z0[None, :] + fractions[:, None] * d[None, :]
        values = np.asarray(jax.vmap(game.field)(jnp.asarray(states)))
        broken = ~np.isfinite(values).all(axis=1)
        if broken.any():
            point, step = divmod(int(row), len(step_sizes))
            z = states[int(np.flatnonzero(broken)[0])]
            raise GameError(
                f"game {game.name!r}: the field is NaN or inf at z = {_fmt(z)}, within one step of size "
                f"h = {step_sizes[step]:.3g} from initial point {point + 1} of {len(points)} (z0 = {_fmt(z0)}): "
                "the loss is not defined along the flow; move the default state away from where it is "
                "undefined, or use smaller step sizes (--h-max)"
            )


def outside_range_reason(game: Game, scheme, step_sizes: np.ndarray, jacobian_norm: float) -> str | None:
    """A reason when the largest step reaches h |dF/dz| > ASYMPTOTIC_LIMIT (|dF/dz| estimated at the default
    state), with the h_max of the default rule, 0.1 / |dF/dz|; None inside the asymptotic range."""
    product = float(np.max(step_sizes)) * jacobian_norm
    if not product > ASYMPTOTIC_LIMIT:
        return None
    return (f"the step sizes reach h |dF/dz| = {product:.3g} (> {ASYMPTOTIC_LIMIT:g}: outside the asymptotic range, "
            f"where the order theory does not hold); the default rule would use h_max = {0.1 / jacobian_norm:.3g}")


def after_fit(game: Game, scheme, measurement, fit, noted: bool, jacobian_norm: float | None = None
              ) -> list[str | None]:
    """Raise GameError for a loss undefined along the flow; else the reasons the verdict starts with: outside the
    asymptotic range (when the steps reach h |dF/dz| > 1) and, when the fit did not pass cleanly (or a kink was
    already seen: ``noted``), non-smooth (harness.verdict)."""
    check_non_finite(game, scheme, measurement.points, measurement.step_sizes, measurement.errors)
    outside = (outside_range_reason(game, scheme, measurement.step_sizes, jacobian_norm)
               if jacobian_norm is not None else None)
    doubtful = fit.status not in (Status.PASS, Status.EXACT) or any("reference error" in r for r in fit.reasons)
    reason = non_smooth_reason(game, scheme, measurement.points, measurement.step_sizes, jacobian_norm) if (
        doubtful or noted) else None
    if reason and fit.status != Status.PASS:
        reason = "order broke down: " + reason
    return [outside, reason]
