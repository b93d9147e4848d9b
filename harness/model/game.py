"""Games: two players (from losses or from vector fields) and single-objective problems.

Player 1 has parameters phi and follows f = -grad_phi L1; player 2 has theta and follows
g = -grad_theta L2. The joint state is the flat vector z = (phi, theta). A single-objective problem is a
game whose second player has no parameters (theta is empty), so every formula for two players applies
to it unchanged (simultaneous GD becomes plain GD, the modified flow becomes IGR).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.errors import GameError, HarnessError
from harness.base.result_cache import kept

Array = jax.Array


AFFINE_TOLERANCE = 1e-10
"""Relative defect of F(z + v) - F(z) = J(z) v (round-off of an affine field) above which it is not affine."""


def _as_state(values: Any, what: str, game: str) -> np.ndarray:
    """Check an initial state: a finite, real, 1-D array; float32 and integers are converted to float64."""
    array = np.asarray(values)
    if np.iscomplexobj(array):
        raise GameError(f"game {game!r}: {what} is complex; states must be real")
    if array.dtype.kind not in "fiub":
        raise GameError(f"game {game!r}: {what} has dtype {array.dtype}; give a real float array")
    if array.ndim != 1:
        raise GameError(f"game {game!r}: {what} must be a 1-D array, got shape {array.shape}")
    if array.dtype.kind == "f" and array.dtype != np.float64:
        warnings.warn(
            f"game {game!r}: {what} given as {array.dtype}; converted to float64 (the harness never "
            "computes in lower precision)",
            stacklevel=3,
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise GameError(f"game {game!r}: {what} contains NaN or inf")
    return array


class Game:
    """A two-player game: player 1 minimises ``loss1(phi, theta)`` over phi, player 2 minimises
    ``loss2(phi, theta)`` over theta. ``phi0`` and ``theta0`` are the default state (1-D arrays).

    Extra keyword arguments are kept in ``metadata`` (for example ``source``, ``h_max``).

    >>> import jax.numpy as jnp
    >>> game = Game("bilinear", lambda p, t: p[0] * t[0], lambda p, t: -p[0] * t[0], [1.0], [0.5])
    >>> [float(v) for v in game.field(jnp.array([1.0, 0.5]))]
    [-0.5, 1.0]
    """

    loss1: Callable | None
    loss: Callable | None = None  # a single-objective problem's loss(x) (single_objective)
    loss2: Callable | None
    field1: Callable
    field2: Callable

    def __init__(self, name: str, loss1: Callable, loss2: Callable, phi0: Any, theta0: Any, **metadata: Any):
        self._set_state(name, phi0, theta0, metadata)
        self.loss1, self.loss2 = loss1, loss2
        grad1 = jax.grad(loss1, argnums=0)
        grad2 = jax.grad(loss2, argnums=1)
        # jitted: evaluated on its own (guards, validation) it is one compiled program, not one per operation; with
        # JAX's own options, as it is also called inside the harness's programs and the user's (nested jits)
        self.field1 = jax.jit(lambda phi, theta: -grad1(phi, theta))
        self.field2 = jax.jit(lambda phi, theta: -grad2(phi, theta))
        self._frozen = True

    @classmethod
    def from_fields(
        cls, name: str, f: Callable, g: Callable, phi0: Any, theta0: Any, *, compiled: bool = True, **metadata: Any
    ) -> Game:
        """A game given directly by its vector fields ``f(phi, theta)`` and ``g(phi, theta)``
        (non-gradient dynamics such as the rotational game); ``compiled=False`` keeps the fields as given (not
        jitted: fields closing over traced values)."""
        game = cls.__new__(cls)
        game._set_state(name, phi0, theta0, metadata)
        game.loss1 = game.loss2 = None
        game.field1, game.field2 = (jax.jit(f), jax.jit(g)) if compiled else (f, g)
        game._frozen = True
        return game

    def __setattr__(self, name: str, value: Any) -> None:
        """A game is frozen once made: what the harness keeps about it stays its own (a new state or field is
        a new Game). Its arrays and metadata can still change in place; harness.model.identity notices that."""
        if getattr(self, "_frozen", False):
            raise AttributeError(f"game {self.name!r} is frozen: make a new Game instead of setting {name}")
        object.__setattr__(self, name, value)

    def _set_state(self, name: str, phi0: Any, theta0: Any, metadata: dict) -> None:
        if not isinstance(name, str) or not name:
            raise GameError(f"a game name must be a non-empty string, got {name!r}")
        self.name = name
        self.phi0 = _as_state(phi0, "phi0", name)
        self.theta0 = _as_state(theta0, "theta0", name)
        if self.phi0.size == 0:
            raise GameError(f"game {name!r}: phi0 is empty; player 1 needs at least one parameter")
        self.metadata = dict(metadata)
        self._affine: bool | None = None

    @property
    def kind(self) -> str:
        return "single-objective" if self.theta0.size == 0 else "two-player"

    @property
    def dims(self) -> tuple[int, int]:
        return self.phi0.size, self.theta0.size

    @property
    def z0(self) -> np.ndarray:
        return np.concatenate([self.phi0, self.theta0])

    @property
    def description(self) -> str:
        """The first line of the game's ``source`` metadata (its docstring in the catalog)."""
        text = str(self.metadata.get("source", "")).strip()
        return text.splitlines()[0] if text else ""

    def split(self, z: Array) -> tuple[Array, Array]:
        a = self.phi0.size
        return z[:a], z[a:]

    def field(self, z: Array) -> Array:
        """The raw joint field (f, g) at z, without learning rates."""
        phi, theta = self.split(z)
        return jnp.concatenate([self.field1(phi, theta), self.field2(phi, theta)])

    def is_affine(self) -> bool:
        """Whether the joint field is affine in z (then every flow is linear and solved by expm).

        Decided at three seeded random points z near the default state: the second directional derivative
        F''(z)[v, w], which autodiff gives as exact zeros for affine fields, and, because a piecewise-affine
        field (ReLU, abs) also has F'' = 0 almost everywhere, the secant F(z + v) - F(z) against J(z) v,
        which must agree to round-off. ``linear=True/False`` metadata overrides it. Kept across runs by the game's
        fingerprint (harness.base.result_cache, harness.model.identity.fingerprint).
        """
        if "linear" in self.metadata:
            return bool(self.metadata["linear"])
        if self._affine is None:
            from harness.model.identity import result_key

            object.__setattr__(self, "_affine", bool(kept(result_key("is_affine", self),
                                                          lambda: (is_affine_function(self.field, self.z0),))[0]))
        return bool(self._affine)

    def identity_items(self) -> dict:
        """What the game computes with (harness.model.identity.snapshot): its attributes but what it decided about
        itself."""
        return {key: item for key, item in vars(self).items() if key != "_affine"}

    def forget_decisions(self) -> None:
        """Forget what the game decided about itself (whether it is affine): its code or data changed."""
        object.__setattr__(self, "_affine", None)

    def __repr__(self) -> str:
        a, b = self.dims
        return f"<{self.kind} game {self.name!r}: dims ({a}, {b})>"


def is_affine_function(function: Callable, z0: np.ndarray) -> bool:
    """Whether ``function`` (R^n -> R^n) is affine, judged at three seeded random points near z0: its
    second directional derivative is exactly zero there (autodiff gives exact zeros for affine functions)
    and the secant function(z + v) - function(z) equals the JVP J(z) v to round-off (AFFINE_TOLERANCE), which
    a piecewise-affine function (ReLU, abs) fails across a kink."""
    rng = np.random.default_rng(0)

    @jit
    def terms(z, v, w):
        second = jax.jvp(lambda x: jax.jvp(function, (x,), (v,))[1], (z,), (w,))[1]
        value, slope = jax.jvp(function, (z,), (v,))
        return second, value, slope, function(z + v) - value

    for _ in range(3):
        z, v, w = (jnp.asarray(z0 + rng.standard_normal(z0.size)) for _ in range(3))
        second, value, slope, secant = (np.asarray(x) for x in terms(z, v, w))
        scale = float(np.max(np.abs(secant)) + np.max(np.abs(slope)) + np.max(np.abs(value)))
        defect = float(np.max(np.abs(secant - slope)))
        if float(np.max(np.abs(second))) != 0.0 or defect > AFFINE_TOLERANCE * scale:
            return False
    return True


def single_objective(name: str, loss: Callable, x0: Any, **metadata: Any) -> Game:
    """A single-objective problem ``loss(x)``: a game whose second player has no parameters."""
    empty = np.zeros(0)
    game = Game(name, lambda x, _theta: loss(x), lambda x, _theta: jnp.sum(empty), x0, np.zeros(0), **metadata)
    object.__setattr__(game, "loss", loss)
    return game


def validate(game: Game) -> None:
    """Evaluate a game at its default state and a few seeded nearby points; raise GameError with one
    clear line if anything is unusable (wrong shapes or dtypes, NaN or inf, an identically zero field).
    A game whose code or data changed since last seen is traced afresh (harness.model.identity.refresh); a pass is
    kept across runs by the game's fingerprint (harness.base.result_cache, harness.model.identity.fingerprint)."""
    from harness.model.identity import refresh, result_key

    refresh([game])
    kept(result_key("validate", game), lambda: _validate(game))


def _validate(game: Game) -> tuple:
    """``validate``'s checks (nothing to keep but that they passed), at the default state and two seeded nearby
    states: every value from one compiled program (``values_at``), or, where that fails, from each function on its
    own, so that the error names the one that failed."""
    a, b = game.dims
    rng = np.random.default_rng(0)
    states = np.stack([game.z0, *(game.z0 + 0.1 * rng.standard_normal(game.z0.size) for _ in range(2))])
    try:
        together: dict[str, np.ndarray] | None = values_at(game, states)
    except HarnessError:
        raise
    except Exception:  # noqa: BLE001  evaluated one by one below, which names the failing function
        together = None

    def value_of(label: str, function: Callable, row: int) -> Any:
        if together is not None:
            return together[label][row]
        return _call(game, label, function, *game.split(jnp.asarray(states[row])))

    for label, loss in (("loss1", game.loss1), ("loss2", game.loss2 if game.kind == "two-player" else None)):
        if loss is None:
            continue
        value = value_of(label, loss, 0)
        if jnp.ndim(value) != 0:
            raise GameError(f"game {game.name!r}: {label} must return a scalar, got shape {jnp.shape(value)}")
        _check_dtype(game, label, value)
        if not np.isfinite(float(value)):
            kind = "NaN" if np.isnan(float(value)) else "inf"
            raise GameError(f"game {game.name!r}: {label} is {kind} at the default state {game.z0.tolist()}")
    nonzero = False
    for attempt in range(3):
        f = value_of("field of player 1", game.field1, attempt)
        g = value_of("field of player 2", game.field2, attempt)
        for label, value, size in (("player 1's field", f, a), ("player 2's field", g, b)):
            if jnp.shape(value) != (size,):
                raise GameError(
                    f"game {game.name!r}: {label} has shape {jnp.shape(value)}, expected ({size},)"
                )
            _check_dtype(game, label, value)
            if not np.all(np.isfinite(np.asarray(value))):
                where = "the default state" if attempt == 0 else "a point near the default state"
                raise GameError(f"game {game.name!r}: {label} is NaN or inf at {where}")
        nonzero = nonzero or bool(np.any(np.asarray(f) != 0) or np.any(np.asarray(g) != 0))
    if not nonzero:
        raise GameError(
            f"game {game.name!r}: the vector field is identically zero near the default state "
            "(a loss that is not differentiable, e.g. built with integer casts or stop_gradient?)"
        )
    return ()


def _parts(game: Game) -> dict[str, Callable]:
    """The game's losses (those it has) and its players' fields, as functions of the joint state."""
    parts: dict[str, Callable] = {}
    for label, loss in (("loss1", game.loss1), ("loss2", game.loss2 if game.kind == "two-player" else None)):
        if loss is not None:
            parts[label] = lambda z, loss=loss: loss(*game.split(z))
    parts["field of player 1"] = lambda z: game.field1(*game.split(z))
    parts["field of player 2"] = lambda z: game.field2(*game.split(z))
    return parts


def values_program(game: Game) -> Callable:
    """Compiled ``states [P, n] -> {label: values [P, ...]}`` of ``_parts``; each call traces a new program."""
    parts = _parts(game)
    return jit(jax.vmap(lambda z: {label: part(z) for label, part in parts.items()}))


_game_program = functools.cache(values_program)  # traced once per game

POINT_BUCKET = 4
"""Batches of 1 to POINT_BUCKET states run as POINT_BUCKET rows (``padded``), so that they share one compiled program:
the validation's three states and a check's initial points in the game's values program (``values_at``), its
sweeps (harness.measure.point_bucket) and its error series (harness.verdict.series.bucketed)."""


def padded(rows: np.ndarray, count: int = POINT_BUCKET) -> np.ndarray:
    """``rows`` [P, n] (as float64) with copies of the last appended up to ``count`` rows (none when P >= count)."""
    rows = np.asarray(rows, dtype=np.float64)
    return np.concatenate([rows, np.repeat(rows[-1:], max(count - len(rows), 0), axis=0)])


def values_at(game: Game, states: np.ndarray, program: Callable | None = None) -> dict[str, np.ndarray]:
    """{label: values [P, ...]} of the game's losses and players' fields at ``states`` [P, n] (``_parts``'
    labels), computed by ``program`` (default: the game's ``values_program``, traced once per game) on the
    ``padded`` batch (each row is computed on its own, though a batch of another size may be vectorised otherwise:
    a value may differ from an unpadded batch's by round-off)."""
    program = _game_program(game) if program is None else program
    return {label: np.asarray(value)[: len(states)] for label, value in program(jnp.asarray(padded(states))).items()}


def _call(game: Game, label: str, fn: Callable, phi: Array, theta: Array) -> Array:
    try:
        return fn(phi, theta)
    except HarnessError:
        raise
    except Exception as exc:  # a user's function failing is bad input, reported in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GameError(f"game {game.name!r}: {label} failed: {type(exc).__name__}: {first}") from exc


def _check_dtype(game: Game, label: str, value: Array) -> None:
    dtype = np.asarray(value).dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise GameError(f"game {game.name!r}: {label} returns complex values; losses must be real")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise GameError(f"game {game.name!r}: {label} returns {dtype}; it must return floats")
    if dtype != jnp.float64:
        raise GameError(
            f"game {game.name!r}: {label} returns {dtype}; the harness computes in float64 only "
            "(remove the lower-precision cast)"
        )
