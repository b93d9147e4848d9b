"""Nesterov's method in Sutskever's form with momentum e^(-gamma sqrt(s)) (França, Sulam, Robinson & Vidal 2020),
checked by the two-step residual (harness.measure.two_step):

    y = x_k + a (x_k - x_(k-1)),    x_(k+1) = y + s V(y),    a = e^(-gamma sqrt(s)).

It is França et al.'s v_(k+1) = mu v_k - eps grad f(x_k + mu v_k), x_(k+1) = x_k + v_(k+1) with
v_k = x_k - x_(k-1) (so x_k + mu v_k = y), mu = e^(-gamma h), eps = s, V = -grad f (alpha = 1) and mass 1: time
step h = sqrt(s). nag_sc, x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k) + a s (V(x_k) - V(x_(k-1))), is Nesterov's
method on its extrapolated points x_k; its points after the gradient step, y_(k+1) = x_k + s V(x_k), follow this
rule's step (with nag_sc's momentum): the two rules step different sequences of the same method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.rules.base import Option, Rule
from harness.rules.heavy_ball_damped import GAMMA, damped_momentum


@dataclass(frozen=True)
class NesterovDamped(Rule):
    name = "nag_damped"
    two_step = True
    options: ClassVar[tuple[Option, ...]] = (GAMMA,)

    def momentum(self, s, params):
        """a (module docstring)."""
        return damped_momentum(params.gamma, s)

    def advance(self, V, x, x_prev, s, k, params):
        """x_(k+1) from x_k = ``x`` and x_(k-1) = ``x_prev`` (module docstring)."""
        y = x + self.momentum(s, params) * (x - x_prev)
        return y + s * V(y)

    def label(self, scheme) -> str:
        return f", gamma={scheme.value('gamma'):g}"


RULE = NesterovDamped()
