"""Update rules: one discrete step z -> z' of size h on the joint state z = (phi, theta).

Learning rates are alpha*h for phi and lambda*h for theta (alpha = ``lr1``, lambda = ``lr2``); V(z) =
(alpha f, lambda g) is the rate-scaled joint field.

- simultaneous: z' = z + h V(z)  (``gd`` is the same rule for single-objective problems)
- alternating (phi first): m Euler steps of size alpha h/m on phi with theta frozen, then k steps of
  size lambda h/k on theta using the new phi; ``first="theta"`` is the mirror image.
- extragradient: z' = z + h V(z + h V(z))
- proximal_point (implicit): z' = z + h V(z'), solved by PROXIMAL_ITERATIONS fixed-point iterations
  z_(k+1) = z + h V(z_k) from z_0 = z (a contraction by h |dV/dz|, at most 0.1 on the default grids: 0.2^24
  is below round-off; unrolled, so Taylor-mode autodiff goes through it, each iteration fixing one more
  order in h)
- random_reshuffling (finite sums E = (1/m) sum_k C_k, a game with ``components``): one epoch, m steps of
  size alpha h / m, one per component, in every order, averaged over the m! orders (the mean iterate of
  random reshuffling): the epoch takes flow time h
- regularised (Rosca et al. 2021 §6, explicit regularisers): with cancellation kappa = ``cancel`` (default 1)
  and self-term strength mu = ``strengthen`` (default 0),
      phi'   = phi   + alpha h  (f + (rho_1 h/2) f_theta g - (mu alpha h/2) f_phi f)
      theta' = theta + lambda h (g + (rho_2 h/2) g_phi f   - (mu lambda h/2) g_theta g)
  with (rho_1, rho_2) = kappa (lambda, alpha) (``convention="joint"``: the interaction terms of the joint-
  convention drift cancel exactly when kappa = 1) or kappa (alpha, lambda) (``convention="official"``, the
  official code's own-rate coefficient). For a gradient game f_phi f = (1/2) grad_phi |grad_phi L1|^2, so the
  mu term is the explicit regulariser L1 + mu (alpha h/4) |grad_phi L1|^2 (the self terms strengthened).
- midpoint: z' = z + h V(z + (h/2) V(z));  rk4: the classical Runge-Kutta step on V.
- ogda (multistep): z' = z + 2h V(z) - h V(z_prev)
- heavy_ball (multistep, momentum ``beta``): z' = z + h V(z) + beta (z - z_prev)
- heavy_ball_sc, nag_sc, nag_c: two-step methods whose momentum is tied to the step (x_k -> x_(k+1)),
  checked against second-order ODEs by the two-step residual (harness.two_step; ``mu`` for the first two)
- user: the user's own rule (harness.user), ``rule(f, g, phi, theta, h, lr1, lr2) -> (phi', theta')`` per
  player or ``rule(V, z, h) -> z'`` jointly, in a file (``rule="path/to/file.py:NAME"``) or a function.
- simultaneous, alternating (m = k = 1) and gd with per-player optimizers (``optimizer``, ``optimizer2``:
  heavy_ball, nesterov, nesterov_buffer, ema, rmsprop, adam; harness.optimizers) on the lifted state (z,
  buffers, step count).

Rules with memory (ogda, heavy_ball and the optimizers) act on a lifted state, (z, z_prev) -> (z', z) for
ogda and heavy_ball; where that state starts is the ``regime`` (harness.regimes: ``on-flow`` or ``cold`` at
step n). The rates, beta and the
regulariser's coefficients enter the compiled step as traced arguments (``params = (alpha, lambda, beta,
rho_1, rho_2, mu, m, k, order)``), so one compiled kernel serves every value. In ``structure`` m, k and the
order are structure (unrolled plain jnp code, which Taylor-mode autodiff sees through); the measurement
kernels of closed-form flows use ``kernel_structure``, where they are traced too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.game import Game, GameError
from harness.optimizers import MOMENTUM, Optimizer, lifted_step
from harness.regimes import REGIMES
from harness.user import UserFunction, from_callable, is_file_spec, joint_function, load

ONE_STEP = ("simultaneous", "alternating", "gd", "extragradient", "proximal_point", "regularised", "midpoint", "rk4",
            "random_reshuffling", "user")
MULTISTEP = ("ogda", "heavy_ball")
TWO_STEP = ("heavy_ball_sc", "nag_sc", "nag_c")
"""Two-step methods with momentum tied to the step s, checked against second-order ODEs (harness.two_step)."""
SCHEME_NAMES = ONE_STEP + MULTISTEP + TWO_STEP
PROXIMAL_ITERATIONS = 24
ORDER_CODES = {"simultaneous": 0.0, "phi": 1.0, "theta": 2.0}
"""params[8] of simultaneous and alternating GD: who moves first (simultaneous: nobody)."""


@dataclass(frozen=True)
class Scheme:
    """An update rule with its parameters."""

    name: str = "simultaneous"
    lr1: float = 1.0
    lr2: float = 1.0
    m: int = 1
    k: int = 1
    first: str = "phi"
    beta: float = 0.0
    rule: str | UserFunction | Callable | None = None
    cancel: float = 1.0
    strengthen: float = 0.0
    convention: str = "joint"
    optimizer: str | dict | Optimizer = "gd"
    optimizer2: str | dict | Optimizer | None = None
    regime: str = "on-flow"
    step: int | None = None
    mu: float = 0.0
    user_params: tuple[tuple[str, Any], ...] | dict = ()
    """Plain values (``--param NAME=VALUE``) for the user's rule and flow, passed to those that name them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_params", _user_params(self.user_params))
        if self.name not in SCHEME_NAMES:
            raise GameError(f"unknown scheme {self.name!r}; choose one of {', '.join(SCHEME_NAMES)}")
        for label, rate in (("lr1", self.lr1), ("lr2", self.lr2)):
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise GameError(f"{label} must be a positive finite number, got {rate!r}")
        for label, count in (("m", self.m), ("k", self.k)):
            if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
                raise GameError(f"{label} must be a positive integer, got {count!r}")
        if self.first not in ("phi", "theta"):
            raise GameError(f"first must be 'phi' or 'theta', got {self.first!r}")
        if self.name not in ("alternating", "user") and (self.m, self.k, self.first) != (1, 1, "phi"):
            raise GameError(f"m, k and first apply to alternating updates only, not {self.name!r}")
        if self.name == "heavy_ball":
            if not (isinstance(self.beta, (int, float)) and 0 <= self.beta < 1):
                raise GameError(f"beta must be in [0, 1) for heavy_ball, got {self.beta!r}")
        elif self.name == "user":
            if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta)):
                raise GameError(f"beta must be a finite number, got {self.beta!r}")
        elif self.beta != 0.0:
            raise GameError(f"beta applies to heavy_ball only, not {self.name!r}")
        if self.name == "regularised":
            for label, value in (("cancel", self.cancel), ("strengthen", self.strengthen)):
                if not (isinstance(value, (int, float)) and math.isfinite(value)):
                    raise GameError(f"{label} must be a finite number, got {value!r}")
            if self.convention not in ("joint", "official"):
                raise GameError(f"convention must be 'joint' or 'official', got {self.convention!r}")
        elif (self.cancel, self.strengthen, self.convention) != (1.0, 0.0, "joint"):
            raise GameError(f"cancel, strengthen and convention apply to regularised only, not {self.name!r}")
        if self.name in ("heavy_ball_sc", "nag_sc"):
            if not (isinstance(self.mu, (int, float)) and math.isfinite(self.mu) and self.mu >= 0):
                raise GameError(f"mu must be a finite number >= 0 for {self.name}, got {self.mu!r}")
        elif self.mu != 0.0:
            raise GameError(f"mu applies to heavy_ball_sc and nag_sc only, not {self.name!r}")
        if (self.name == "user") != (self.rule is not None):
            raise GameError("a user update rule is given as rule='path/to/file.py:NAME' or a function (and only "
                            "for 'user')")
        self._check_memory()
        if self.rule is not None and not isinstance(self.rule, str):
            object.__setattr__(self, "rule", from_callable(self.rule, "rule"))
        elif self.rule is not None and not is_file_spec(self.rule):
            raise GameError(f"a user update rule is given as path/to/file.py:NAME, got {self.rule!r}")

    def _check_memory(self) -> None:
        """Normalise and check the optimizers, the regime and the step."""
        first = Optimizer.of(self.optimizer)
        object.__setattr__(self, "optimizer", first)
        object.__setattr__(self, "optimizer2", first if self.optimizer2 is None else Optimizer.of(self.optimizer2))
        if self.optimizers is not None:
            if self.name not in ("simultaneous", "alternating", "gd"):
                raise GameError(f"optimizers apply to simultaneous, alternating and gd updates, not {self.name!r}")
            if (self.m, self.k) != (1, 1):
                raise GameError("alternating updates with optimizers take one step per player (m = k = 1)")
        if self.regime not in REGIMES:
            raise GameError(f"unknown regime {self.regime!r}; choose one of {', '.join(REGIMES)}")
        if self.regime == "cold" and not self.lifted:
            raise GameError("a regime applies to rules with memory (ogda, heavy_ball, an optimizer other than gd), "
                            f"not {self.label}")
        if self.step is not None:
            if not (isinstance(self.step, int) and not isinstance(self.step, bool) and self.step >= 1):
                raise GameError(f"step must be a positive integer, got {self.step!r}")
            if self.regime != "cold":
                raise GameError("step n applies to the cold regime (the n-th step from the frameworks' start)")

    @property
    def optimizers(self) -> tuple[Optimizer, Optimizer] | None:
        """The two players' optimizers, or None when both are plain gd."""
        first, second = self.optimizer, self.optimizer2
        assert isinstance(first, Optimizer) and isinstance(second, Optimizer)  # normalised by __post_init__
        return (first, second) if first.stateful or second.stateful else None

    @property
    def measured_step(self) -> float:
        """n of the measured step: inf on the flow, ``step`` (default 1) from a cold start."""
        return math.inf if self.regime == "on-flow" else float(self.step or 1)

    @property
    def start(self) -> tuple | None:
        """(regime, n) of a rule with memory, None for a one-step rule."""
        return (self.regime, self.step or 1) if self.lifted else None

    @property
    def steady_slope(self) -> float | None:
        """The local-error slope a cold start limits checks against the rule's flows on the flow to (1: the
        state's weight is off at O(h); 2: only its lags are; harness.regimes), None when not limited."""
        if self.regime != "cold":
            return None
        if self.name == "ogda":
            return 2.0 if (self.step or 1) == 1 else None
        if self.name == "heavy_ball":
            return 1.0
        slopes = [1.0 if o.name in MOMENTUM or not o.bias_correction else 2.0
                  for o in self.optimizers or () if o.stateful]
        return min(slopes, default=None)

    @property
    def user_rule(self) -> UserFunction:
        """The user's rule (loaded from its file when given as a spec); GameError when the scheme sets one of
        m, k, first, beta that the rule does not name (it would be silently ignored)."""
        rule = self.rule if isinstance(self.rule, UserFunction) else load(str(self.rule), "rule")
        defaults = {"m": 1, "k": 1, "first": "phi", "beta": 0.0}
        ignored = [name for name, default in defaults.items()
                   if getattr(self, name) != default and name not in rule.keywords]
        if ignored:
            raise GameError(f"{rule.describe} does not name {', '.join(ignored)}, so it would ignore the value "
                            "given; add it as a keyword parameter or leave it out")
        return rule

    @property
    def rule_label(self) -> str:
        """``file.py:NAME`` of a user rule."""
        return self.rule.source if isinstance(self.rule, UserFunction) else str(self.rule)

    @property
    def method_order(self) -> int:
        """The order q of the rule as an integrator of the gradient flow (local error O(h^(q+1)))."""
        if self.name == "user":
            return self.user_rule.order
        return {"midpoint": 2, "rk4": 4}.get(self.name, 1)

    @property
    def two_step(self) -> bool:
        """Whether the rule is a two-step method checked against second-order ODEs (TWO_STEP)."""
        return self.name in TWO_STEP

    @property
    def lifted(self) -> bool:
        """Whether the rule has memory: it steps a lifted state (ogda, heavy_ball, optimizers)."""
        return self.name in MULTISTEP or self.optimizers is not None

    @property
    def structure(self) -> tuple:
        """What the compiled step depends on (everything but the traced parameters)."""
        if self.optimizers is not None:
            return ("optimizers", self.first if self.name == "alternating" else "simultaneous", self.optimizers)
        if self.name == "alternating":
            return ("alternating", self.m, self.k, self.first)
        if self.name == "user":
            rule = self.user_rule
            return ("user", rule, rule.keywords_from(self))
        return ("simultaneous",) if self.name == "gd" else (self.name,)

    @property
    def interaction_rates(self) -> tuple[float, float]:
        """(rho_1, rho_2) of the regularised update: kappa (lambda, alpha) in the joint convention, kappa
        (alpha, lambda) in the official code's (0 for every other rule)."""
        if self.name != "regularised":
            return 0.0, 0.0
        rates = (self.lr2, self.lr1) if self.convention == "joint" else (self.lr1, self.lr2)
        return self.cancel * rates[0], self.cancel * rates[1]

    def kernel_structure(self, game: Game, automatic: bool) -> tuple:
        """The structure a measurement kernel is compiled for. Simultaneous and alternating GD on a two-player
        game share ``("two-player gd",)`` (substeps and order traced). Taylor-mode autodiff (``automatic``:
        bea flows) needs unrolled steps: there simultaneous GD shares the alternating step with m = k = 1 and
        phi first, whose second mover sees the first one's old state when params[8] says simultaneous."""
        if self.name not in ("simultaneous", "alternating") or game.kind != "two-player" or self.optimizers:
            return self.structure
        if not automatic:
            return ("two-player gd",)
        return ("alternating", 1, 1, "phi") if self.name == "simultaneous" else self.structure

    @property
    def param_values(self) -> np.ndarray:
        """The traced parameters (alpha, lambda, beta, rho_1, rho_2, mu, m, k, order) as a numpy array
        (order: ORDER_CODES, simultaneous for every rule but alternating)."""
        order = ORDER_CODES[self.first if self.name == "alternating" else "simultaneous"]
        return np.array([self.lr1, self.lr2, self.beta, *self.interaction_rates, self.strengthen, self.m, self.k,
                         order], dtype=np.float64)

    @property
    def params(self) -> jax.Array:
        """``param_values`` as a JAX array."""
        return jnp.asarray(self.param_values)

    @property
    def label(self) -> str:
        if self.name == "user":
            extra = "".join(f", {name}={value:g}" if isinstance(value, float) else f", {name}={value}"
                            for name, value in (("m", self.m), ("k", self.k), ("first", self.first),
                                                ("beta", self.beta))
                            if value != {"m": 1, "k": 1, "first": "phi", "beta": 0.0}[name])
            extra += "".join(f", {name}={_shown(value)}" for name, value in self.user_params)
            return f"user({self.rule_label}, lr1={self.lr1:g}, lr2={self.lr2:g}{extra})"
        text = f"{self.name}(lr1={self.lr1:g}, lr2={self.lr2:g}"
        if self.name == "alternating":
            text += f", m={self.m}, k={self.k}, first={self.first}"
        if self.name == "heavy_ball":
            text += f", beta={self.beta:g}"
        if self.name in ("heavy_ball_sc", "nag_sc"):
            text += f", mu={self.mu:g}"
        if self.name == "regularised" and (self.cancel, self.strengthen, self.convention) != (1.0, 0.0, "joint"):
            text += f", cancel={self.cancel:g}, strengthen={self.strengthen:g}, convention={self.convention}"
        if self.optimizers is not None:
            first, second = self.optimizers
            text += f", optimizer={first.label}" + (f", optimizer2={second.label}" if second != first else "")
        if self.lifted:
            text += f", {self.regime}" + (f" at step {self.step or 1}" if self.regime == "cold" else "")
        text += "".join(f", {name}={_shown(value)}" for name, value in self.user_params)
        return text + ")"

    def to_dict(self) -> dict:
        """The fields as plain data; the regulariser's fields only for the regularised rule."""
        data = asdict(self)
        data["rule"] = self.rule_label if self.rule is not None else None
        if self.name != "regularised":
            for key in ("cancel", "strengthen", "convention"):
                del data[key]
        for key in ("optimizer", "optimizer2"):
            data[key] = getattr(self, key).to_dict()
        if self.optimizers is None:
            del data["optimizer"], data["optimizer2"]
        if not self.lifted:
            del data["regime"], data["step"]
        if self.name not in ("heavy_ball_sc", "nag_sc"):
            del data["mu"]
        data["user_params"] = dict(self.user_params)
        if not self.user_params:
            del data["user_params"]
        return data


def _user_params(given: Any) -> tuple[tuple[str, Any], ...]:
    """``user_params`` as sorted (name, value) pairs of identifiers and plain values (numbers, strings, booleans)."""
    pairs = list(given.items()) if isinstance(given, dict) else list(given)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and pair[0].isidentifier()):
            raise GameError(f"a rule parameter is a NAME=VALUE pair with NAME an identifier, got {pair!r}")
        if not isinstance(pair[1], (bool, int, float, str)) or (isinstance(pair[1], float) and
                                                                not math.isfinite(pair[1])):
            raise GameError(f"parameter {pair[0]}: a value is a finite number, a string or a boolean, got "
                            f"{pair[1]!r}")
    names = [name for name, _ in pairs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise GameError(f"parameter {', '.join(twice)} given twice; give each once")
    return tuple(sorted(pairs))


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def update_map(game: Game, structure: tuple) -> Callable:
    """The step ``(z, h, params) -> z'`` for a scheme structure (``Scheme.structure`` or ``kernel_structure``),
    ``params = Scheme.params`` (rules with memory: on their lifted state, harness.regimes)."""
    a, b = game.dims
    kind = structure[0]

    def velocity(z, params):
        return jnp.concatenate([jnp.full(a, params[0]), jnp.full(b, params[1])]) * game.field(z)

    if kind == "simultaneous":
        return lambda z, h, params: z + h * velocity(z, params)
    if kind == "extragradient":
        return lambda z, h, params: z + h * velocity(z + h * velocity(z, params), params)
    if kind == "random_reshuffling":
        return _reshuffled_epoch(game)
    if kind == "proximal_point":

        def proximal_point(z, h, params):
            z_next = z
            for _ in range(PROXIMAL_ITERATIONS):
                z_next = z + h * velocity(z_next, params)
            return z_next

        return proximal_point
    if kind == "midpoint":
        return lambda z, h, params: z + h * velocity(z + 0.5 * h * velocity(z, params), params)
    if kind == "rk4":

        def rk4(z, h, params):
            k1 = velocity(z, params)
            k2 = velocity(z + 0.5 * h * k1, params)
            k3 = velocity(z + 0.5 * h * k2, params)
            k4 = velocity(z + h * k3, params)
            return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

        return rk4
    if kind == "regularised":

        def regularised(z, h, params):
            raw, jacobian_times = jax.linearize(game.field, z)  # the field once, its Jacobian as a linear map
            f, g = raw[:a], raw[a:]
            tangents = jnp.stack([jnp.concatenate([f, jnp.zeros(b)]), jnp.concatenate([jnp.zeros(a), g])])
            along_f, along_g = jax.vmap(jacobian_times)(tangents)  # (f_phi f, g_phi f), (f_theta g, g_theta g)
            alpha, lam, rho1, rho2, mu = params[0], params[1], params[3], params[4], params[5]
            phi_step = f + 0.5 * h * (rho1 * along_g[:a] - mu * alpha * along_f[:a])
            theta_step = g + 0.5 * h * (rho2 * along_f[a:] - mu * lam * along_g[a:])
            return z + h * jnp.concatenate([alpha * phi_step, lam * theta_step])

        return regularised
    if kind == "ogda":

        def ogda(state, h, params):
            z, z_prev = state[: a + b], state[a + b:]
            return jnp.concatenate([z + 2 * h * velocity(z, params) - h * velocity(z_prev, params), z])

        return ogda
    if kind == "heavy_ball":

        def heavy_ball(state, h, params):
            z, z_prev = state[: a + b], state[a + b:]
            return jnp.concatenate([z + h * velocity(z, params) + params[2] * (z - z_prev), z])

        return heavy_ball
    if kind == "user":
        return joint_function(structure[1], game, structure[2])
    if kind == "optimizers":
        return lifted_step(game, structure[1], structure[2])

    if kind == "two-player gd":
        return _two_player_gd(game)

    _, m, k, first = structure

    def alternating(z, h, params):
        phi, theta = game.split(z)

        def move_phi(phi, theta):
            for _ in range(m):
                phi = phi + (params[0] * h / m) * game.field1(phi, theta)
            return phi

        def move_theta(phi, theta):
            for _ in range(k):
                theta = theta + (params[1] * h / k) * game.field2(phi, theta)
            return theta

        sees_new = params[8] != ORDER_CODES["simultaneous"]  # simultaneous GD: the second mover sees the old state
        if first == "phi":
            phi_new = move_phi(phi, theta)
            theta = move_theta(jnp.where(sees_new, phi_new, phi), theta)
            phi = phi_new
        else:
            theta_new = move_theta(phi, theta)
            phi = move_phi(phi, jnp.where(sees_new, theta_new, theta))
            theta = theta_new
        return jnp.concatenate([phi, theta])

    return alternating


def _reshuffled_epoch(game: Game) -> Callable:
    """The mean of one epoch over every order of the components (module docstring)."""
    components = game.metadata.get("components")
    if not components or game.kind != "single-objective":
        raise GameError(f"random_reshuffling needs a single-objective finite sum with components=(C_1, ..., C_m); "
                        f"game {game.name!r} declares none")
    gradients = [jax.grad(c) for c in components]
    orders = list(itertools.permutations(range(len(gradients))))

    def epoch(z, h, params):
        size = params[0] * h / len(gradients)
        ends = []
        for order in orders:
            x = z
            for k in order:
                x = x - size * gradients[k](x)
            ends.append(x)
        return sum(ends) / len(orders)

    return epoch


def _two_player_gd(game: Game) -> Callable:
    """Simultaneous and alternating GD as one step whose substep counts m, k and player order are traced
    (params[6], params[7], params[8] = ORDER_CODES), so that one compiled kernel serves them all: phi takes
    m Euler substeps of size alpha h / m with theta held, theta takes k of size lambda h / k with phi held;
    the player who moves second sees the first one's new state (simultaneous: both see the old one). Loops
    and branches are lax control flow, which Taylor-mode autodiff (harness.bea) does not go through."""

    def step(z, h, params):
        phi, theta = game.split(z)
        m, k, order = params[6], params[7], params[8]

        def move_phi(theta_seen):
            substep = lambda _, x: x + (params[0] * h / m) * game.field1(x, theta_seen)  # noqa: E731
            return jax.lax.fori_loop(0, m.astype(jnp.int32), substep, phi)

        def move_theta(phi_seen):
            substep = lambda _, x: x + (params[1] * h / k) * game.field2(phi_seen, x)  # noqa: E731
            return jax.lax.fori_loop(0, k.astype(jnp.int32), substep, theta)

        theta_first = order == ORDER_CODES["theta"]
        theta_seen = jax.lax.cond(theta_first, move_theta, lambda _: theta, phi)
        phi_new = move_phi(theta_seen)
        phi_seen = jnp.where(order == ORDER_CODES["phi"], phi_new, phi)
        theta_new = jax.lax.cond(theta_first, lambda _: theta_seen, move_theta, phi_seen)
        return jnp.concatenate([phi_new, theta_new])

    return step


def update_rule(game: Game, scheme: Scheme) -> Callable:
    """The step ``(z, h) -> z'`` of ``scheme`` on ``game`` as a plain JAX function (rules with memory: on
    their lifted state, harness.regimes)."""
    step = update_map(game, scheme.structure)
    params = scheme.params
    return jax.jit(lambda z, h: step(z, h, params))
