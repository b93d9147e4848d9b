"""Flows whose time-h solution is compared with one update step.

Closed-form flows. For player i with raw field F_i (f for phi, g for theta) and rate r_i (alpha, lambda):

    z_i' = s r_i F_i - (h/2) r_i [ dF_i/dphi (c_i1 f) + dF_i/dtheta (c_i2 g) ]

with a leading scale s (1 except for heavy ball) and a 2x2 coefficient matrix c (docs/theory.md §2-3). The
bracket is one Jacobian-vector product of F_i with the tangent (c_i1 f, c_i2 g), taken by autodiff.
Coefficients (a = alpha, l = lambda):

gradient flow                       c = 0                          (order 0)
modified, simultaneous / gd         c = [[a, l], [a, l]]           (joint convention, order 1; = IGR for
modified, alternating phi first     c = [[a/m, l], [-a, l/k]]       a single objective, also named "igr")
modified, alternating theta first   c = [[a/m, -l], [a, l/k]]
modified, extragradient, ogda,      c = -[[a, l], [a, l]]          (V + (h/2) V'V)
  proximal point
modified, regularised               c = [[(1+u)a, l-r1], [a-r2, (1+u)l]]   (u = strengthen, (r1, r2) =
                                                                   Scheme.interaction_rates; joint convention
                                                                   with cancel = 1: self terms only, §5 item 9)
modified, midpoint                  c = 0                          (a second-order method)
modified, heavy ball (momentum b)   s = 1/(1-b), c = (1+b)/(1-b)^3 [[a, l], [a, l]]
official, simultaneous              c = [[a, a], [l, l]]           (official-code convention: own rate on
official, alternating phi first     c = [[a/m, a], [l - 2a, l/k]]   the interaction term; O(h^3) only
official, alternating theta first   c = [[a/m, a - 2l], [l, l/k]]   when a = l)
official, regularised               c = [[(1+u)a, a-r1], [l-r2, (1+u)l]]   (what the official convention
                                                                   predicts: self terms only for its own
                                                                   convention="official" update)

Regularised: one step is z + hV + h^2 W with W = (a (r1 f_theta g - u a f_phi f)/2, l (r2 g_phi f -
u l g_theta g)/2), so its first-order field is V + h (W - V'V/2); the official convention puts the own rate
a (l) where V'V/2 has the other player's rate l (a) on the interaction term.

Flows ``bea:P`` are the modified fields of order P derived automatically from the update rule (harness.base.bea).

Per-player optimizers (harness.rules.optimizers) have their own first-order flows, derived on their slow manifold
(harness.flows.optimizer_flows): ``gradient`` is their leading field D, ``modified`` is D + h H on the flow (the
``on-flow`` regime), ``modified-at-step`` the same with the coefficients of a cold start at step n.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.bea import MAX_ORDER, modified_coefficients, powers_of
from harness.base.errors import FlowError
from harness.flows.optimizer_flows import buffer_coefficients, optimizer_flow
from harness.model.game import Game
from harness.model.user import UserFunction, from_callable, is_file_spec, joint_function, load, resolve
from harness.rules.schemes import Scheme, update_map

FLOW_ORDERS = {"gradient": 0, "modified": 1, "official": 1, "igr": 1, "modified-at-step": 1}
FLOW_NAMES = (*FLOW_ORDERS, "bea:P")


@dataclass(frozen=True)
class Flow:
    """A flow: built-in by name (``gradient``, ``modified``, ``official``, ``igr`` or ``bea:P``, P = 0...6),
    or a user's flow (harness.model.user) given as ``path/to/file.py:NAME`` or by ``Flow.of(function)``; its order p
    (local error O(h^(p+2)) when it is the right flow for a first-order method)."""

    name: str
    user: UserFunction | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.user is None and is_file_spec(self.name):
            object.__setattr__(self, "user", load(self.name, "flow"))
        if self.user is not None:
            object.__setattr__(self, "name", self.user.name)
            return
        if self.name in FLOW_ORDERS:
            return
        prefix, _, order = self.name.partition(":")
        if prefix != "bea" or not order.isdigit() or int(order) > MAX_ORDER:
            raise FlowError(f"unknown flow {self.name!r}; choose one of {', '.join(FLOW_ORDERS)}, bea:P with "
                            f"P = 0...{MAX_ORDER}, or your own flow as path/to/file.py:NAME")

    @classmethod
    def of(cls, value: Flow | str | Callable, base: str | Path | None = None) -> Flow:
        """A flow from a Flow, a built-in name, ``path/to/file.py:NAME`` (a relative path taken relative to
        the folder ``base`` when given) or a user's function (harness.model.user)."""
        if isinstance(value, Flow):
            return value
        if isinstance(value, str):
            return cls(resolve(value, base))
        if callable(value) or isinstance(value, UserFunction):
            user = from_callable(value, "flow")
            return cls(user.name, user)
        raise FlowError(f"a flow is a name, path/to/file.py:NAME or a function, got {value!r}")

    @property
    def automatic(self) -> bool:
        return self.name.startswith("bea:") and self.user is None

    @property
    def order(self) -> int:
        if self.user is not None:
            return self.user.order
        return int(self.name.split(":")[1]) if self.automatic else FLOW_ORDERS[self.name]

    @property
    def second_order(self) -> bool:
        """Whether the flow is a user's second-order ODE (checked by harness.measure.two_step)."""
        return self.user is not None and self.user.second_order

    @property
    def label(self) -> str:
        """The name, with the file for a user's flow."""
        return self.user.label if self.user is not None else self.name

    def to_dict(self) -> dict:
        """``name`` and ``order``; a user's flow adds ``source`` (file.py:NAME)."""
        data = {"name": self.name, "order": self.order}
        if self.second_order:
            assert self.user is not None
            data.update(second_order=True, time_offset=self.user.time_offset)
        return data if self.user is None else {**data, "source": self.user.source}

    @classmethod
    def from_dict(cls, data: dict) -> Flow:
        """The flow of ``to_dict``; a user's flow comes back recorded (labels results, not measurable)."""
        if data.get("source"):
            notation = "second-order" if data.get("second_order") else None
            return cls(data["name"], UserFunction.recorded("flow", data["name"], data["source"], data["order"],
                                                           notation, data.get("time_offset", 0.0)))
        return cls(data["name"])


def flow_coefficients(flow: Flow, scheme: Scheme) -> tuple[float, np.ndarray]:
    """The leading scale s and coefficient matrix c of a closed-form ``flow`` for ``scheme``: the gradient flow
    is s V for every rule (user rules included), the others are the rule's own (harness.rules: ``closed_form``)."""
    if flow.automatic or flow.user is not None:
        raise FlowError(f"{flow.label} is not a closed-form flow; it has no coefficients")
    if flow.name == "modified-at-step":
        raise FlowError(f"modified-at-step is the flow of optimizers with buffers, not of {scheme.label}")
    rule = scheme.rule_object
    lead = rule.lead(scheme)
    if flow.name == "gradient":
        return lead, np.zeros((2, 2))
    return lead, rule.closed_form(flow.name, scheme)


def first_order_field(game: Game) -> Callable:
    """The closed-form field ``(z, h, params, (s, c)) -> z'`` of the module docstring; params, s and c are
    traced (params = Scheme.params, harness.rules.base.Traced)."""
    a = game.dims[0]

    def field(z, h, params, coefficients):
        lead, c = coefficients
        raw = game.field(z)
        f, g = raw[:a], raw[a:]
        tangent1 = jnp.concatenate([c[0, 0] * f, c[0, 1] * g])
        tangent2 = jnp.concatenate([c[1, 0] * f, c[1, 1] * g])
        jvp1 = jax.jvp(game.field, (z,), (tangent1,))[1][:a]
        jvp2 = jax.jvp(game.field, (z,), (tangent2,))[1][a:]
        correction = jnp.concatenate([params.alpha * jvp1, params.lam * jvp2])
        scaled = jnp.concatenate([params.alpha * f, params.lam * g])
        return lead * scaled - 0.5 * h * correction

    return field


@dataclass(frozen=True)
class Family:
    """A kernel family of built-in flows: ``closed-form``, ``optimizer``, or ``bea`` compiled at ``order``; its text
    (``str``) names it in kernel keys."""

    kind: str
    order: int = 0

    def __str__(self) -> str:
        return f"bea:{self.order}" if self.kind == "bea" else self.kind


CLOSED_FORM = Family("closed-form")
OPTIMIZER = Family("optimizer")


@dataclass(frozen=True)
class UserFamily:
    """The kernel family of a user's flow: the function and the static keyword values it is called with."""

    user: UserFunction
    keywords: tuple


def flow_family(flow: Flow, scheme: Scheme, compiled_order: int | None = None) -> tuple[Family | UserFamily, tuple]:
    """The family of ``flow`` (``CLOSED_FORM``, ``OPTIMIZER``, ``bea`` at Q, the compiled order, or a
    ``UserFamily``) and its traced coefficients: one compiled field per family serves every flow, learning rate
    and momentum in it. ``bea:P`` is compiled at order Q = max(P, compiled_order) with a traced truncation to
    order P, so the checks of bea:0 ... bea:Q on one game and rule share a kernel (its lower terms are exact)."""
    if flow.user is not None:
        return UserFamily(flow.user, flow.user.keywords_from(scheme)), ()
    if flow.automatic:
        if scheme.lifted:
            raise FlowError(f"{flow.name} derives the flow of a one-step map z -> z', but {scheme.label} carries "
                            "memory (a previous iterate or buffers), whose flow lives on a slow manifold of the "
                            "lifted state; check it against gradient or modified (derived on that manifold), or "
                            "your own flow (path/to/file.py:NAME)")
        compiled = max(flow.order, compiled_order or 0)
        return Family("bea", compiled), (jnp.arange(compiled + 1) <= flow.order,)
    if scheme.optimizers is not None:
        return OPTIMIZER, optimizer_coefficients(flow, scheme)
    lead, c = flow_coefficients(flow, scheme)
    return CLOSED_FORM, (jnp.asarray(lead), jnp.asarray(c))


def optimizer_coefficients(flow: Flow, scheme: Scheme) -> tuple:
    """(first, per-player buffer coefficients) of an optimizer flow (harness.flows.optimizer_flows): ``gradient``
    (first = 0) and ``modified`` on the flow, ``modified-at-step`` at the cold start's step n."""
    if flow.name not in ("gradient", "modified", "modified-at-step"):
        raise FlowError(f"no {flow.name!r} flow for optimizers; check {scheme.label} against gradient, modified, "
                        "modified-at-step or your own flow (path/to/file.py:NAME)")
    n = scheme.measured_step if flow.name == "modified-at-step" else np.inf
    optimizers = scheme.optimizers
    assert optimizers is not None
    if flow.name == "modified-at-step" and scheme.regime == "cold" and "nesterov" in [o.name for o in optimizers]:
        raise FlowError("no modified-at-step flow for nesterov (Sutskever's form) from a cold start: its first-order "
                        "term depends on the discrete history of x_prev; use nesterov_buffer, or the on-flow regime")
    order = scheme.structure[1]
    return (jnp.asarray(0.0 if flow.name == "gradient" else 1.0),
            tuple(jnp.asarray(buffer_coefficients(optimizers, order, i, n)) for i in range(2)))


def family_field(game: Game, structure: tuple, family: Family | UserFamily) -> Callable:
    """The field ``(z, h, params, coefficients) -> z'`` of a flow family for a scheme structure; for
    ``bea:Q`` the coefficients are a mask that truncates f_1 + h f_2 + ... + h^Q f_{Q+1}; a user's flow has
    none."""
    if isinstance(family, UserFamily):
        user_field = joint_function(family.user, game, family.keywords)
        return lambda z, h, params, _coefficients: user_field(z, h, params)
    if family == CLOSED_FORM:
        return first_order_field(game)
    if family == OPTIMIZER:
        return optimizer_flow(game, structure[1], structure[2])
    order = family.order
    terms = modified_coefficients(update_map(game, structure), order)

    def truncated(z, h, params, coefficients):
        (mask,) = coefficients
        return jnp.where(mask, powers_of(h, order), 0.0) @ terms(z, params)

    return truncated


def flow_field(game: Game, flow: Flow, scheme: Scheme) -> Callable:
    """The vector field ``(z, h) -> z'`` of ``flow`` for ``scheme`` on ``game``."""
    family, coefficients = flow_family(flow, scheme)
    field = family_field(game, scheme.structure, family)
    params = scheme.params
    return jax.jit(lambda z, h: field(z, h, params, coefficients))  # JAX's options: it is also called in programs
