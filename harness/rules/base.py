"""What a built-in update rule is: its options, its step, its order and its closed-form flows.

A rule is a frozen dataclass registered by name (harness.rules). The values of its parameters live in a
``harness.rules.schemes.Scheme``: the rates alpha = ``lr1`` and lambda = ``lr2`` of every rule, and the options the rule
declares (``Rule.options``), each declared once as an ``Option`` with its default, type and check. The
command line's flags, the check matrix's keys and the API's keywords are derived from these declarations.

The compiled step of every rule is ``(z, h, params) -> z'`` with the traced parameters a ``Traced`` named tuple
(one compiled kernel serves every value); V(z) = (alpha f, lambda g), the rate-scaled joint field, is built by
harness.model.scaled_field alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax.numpy as jnp
import numpy as np

from harness.base.errors import FlowError
from harness.model.game import Game

ORDER_CODES = {"simultaneous": 0.0, "phi": 1.0, "theta": 2.0}
"""``Traced.order`` of simultaneous and alternating GD: who moves first (simultaneous: nobody)."""


class Traced(NamedTuple):
    """The traced parameters of every compiled step, a named pytree (``Scheme.params``): scalars, or [R] arrays
    for R rows of settings under ``jax.vmap``. Rules read the ones they use by name."""

    alpha: Any
    """The rate of the first player (of the only one for one objective)."""
    lam: Any
    """lambda, the rate of the second player."""
    beta: Any
    """The momentum of heavy_ball, OGDA's extrapolation and the like (0 for rules without one)."""
    rho_1: Any
    """The regularised update's interaction rates (0 for every other rule)."""
    rho_2: Any
    strengthen: Any
    """The regularised update's strengthening (0 for every other rule)."""
    mu: Any
    """The strong convexity mu of the two-step methods (harness.measure.two_step)."""
    gamma: Any
    """The damping gamma of heavy_ball_damped and nag_damped, momentum e^(-gamma sqrt(s)) (0 for every other
    rule)."""
    m: Any
    """The substeps of the first and second player (simultaneous and alternating GD)."""
    k: Any
    order: Any
    """Who moves first, as ORDER_CODES."""

    def rate(self, player: int) -> Any:
        """alpha for player 0, lambda for player 1."""
        return self.lam if player else self.alpha

    def arrays(self, dtype: Any = np.float64) -> Traced:
        """These values as JAX scalars of ``dtype`` (the arguments of a compiled step)."""
        return Traced(*(jnp.asarray(x, dtype) for x in self))

    @classmethod
    def zeros(cls, dtype: Any = np.float64) -> Traced:
        """Zeros as JAX scalars of ``dtype`` (for tracing a step's program)."""
        return cls(*(0.0,) * len(cls._fields)).arrays(dtype)

    @classmethod
    def stack(cls, rows: list[Traced]) -> Traced:
        """R rows of settings as one Traced of [R] arrays (for ``jax.vmap``)."""
        return cls(*np.array(rows, dtype=np.float64).T)


@dataclass(frozen=True)
class Option:
    """A parameter a rule declares: its name (the CLI flag ``--NAME``, the matrix key and the API keyword), default,
    type (float, int or str), allowed strings, a one-line help, and ``check(value, rule) -> problem or None``."""

    name: str
    default: Any
    kind: type
    help: str
    choices: tuple[str, ...] = ()
    check: Callable[[Any, str], str | None] | None = None

    def problem(self, value: Any, rule: str) -> str | None:
        """Why ``value`` is not a value of this option for ``rule`` (None when it is)."""
        if self.choices and value not in self.choices:
            return f"{self.name} must be {' or '.join(repr(c) for c in self.choices)}, got {value!r}"
        if self.kind is int and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return f"{self.name} must be a positive integer, got {value!r}"
        if self.kind is float and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                       and math.isfinite(value)):
            return f"{self.name} must be a finite number, got {value!r}"
        return self.check(value, rule) if self.check else None


@dataclass(frozen=True)
class Rule:
    """A built-in update rule; subclasses set the class attributes and override the methods they need."""

    name: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    order: ClassVar[int] = 1
    """The rule's order q as an integrator of the gradient flow (local error O(h^(q+1)))."""
    memory: ClassVar[bool] = False
    """Whether the rule steps a lifted state (z, z_prev): a multistep rule."""
    two_step: ClassVar[bool] = False
    """Whether the rule is a two-step method checked against second-order ODEs (harness.measure.two_step)."""
    time_power: ClassVar[int] = 2
    """A two-step rule's step s as a power of its time step tau: s = tau^2 (tau = sqrt(s): momentum tied to the
    step) or s = tau (fixed momentum, time t = k s)."""
    kinds: ClassVar[tuple[str, ...]] = ()
    """The ``structure[0]`` values whose step this rule builds (default: its name)."""

    def method_order(self, scheme: Any) -> int:
        """``order``, or what the scheme's values make it."""
        return self.order

    def structure(self, scheme: Any) -> tuple:
        """What the compiled step depends on besides the traced parameters."""
        return (self.name,)

    def step(self, game: Game, structure: tuple) -> Callable:
        """The step ``(z, h, params) -> z'`` for ``structure``."""
        raise NotImplementedError

    def advance(self, V: Callable, x: Any, x_prev: Any, s: Any, k: Any, params: Traced) -> Any:
        """x_(k+1) of a two-step method from x_k = ``x`` and x_(k-1) = ``x_prev`` (step s, traced k and parameters)."""
        raise NotImplementedError(f"{self.name} is not a two-step method")

    def lead(self, scheme: Any) -> float:
        """s of the leading field s V of the rule's flows (the gradient flow is s V)."""
        return 1.0

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        """c of the closed-form flow ``flow`` (harness.flows.first_order_field: s V - (h/2) (alpha sum_j c_1j
        f_j-part, lambda sum_j c_2j g_j-part)); FlowError when the rule has none."""
        raise FlowError(f"no closed-form {flow!r} flow for {self.name}; check it against gradient, bea:P or your own "
                        "flow (path/to/file.py:NAME)")

    def label(self, scheme: Any) -> str:
        """The options shown in the scheme's label, as ``, name=value`` text."""
        return ""

    def substeps(self, scheme: Any) -> int:
        """Evaluations of the base step in one step (harness.checks.budget)."""
        return 1

    def steady_slope(self, scheme: Any) -> float | None:
        """The local-error slope a cold start limits checks on the flow to (None: not limited)."""
        return None


def joint(scheme: Any) -> np.ndarray:
    """[[alpha, lambda], [alpha, lambda]]: the coefficients of V'V in harness.flows.first_order_field."""
    return np.array([[scheme.lr1, scheme.lr2], [scheme.lr1, scheme.lr2]])


def no_official(name: str) -> FlowError:
    """The error for the official code's convention on a rule it does not cover."""
    return FlowError("the official-code convention exists for simultaneous, alternating and regularised updates, not "
                     f"{name!r}")

