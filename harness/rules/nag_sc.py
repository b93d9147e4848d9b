"""Nesterov's method for strongly convex functions with momentum tied to the step s (Shi, Du, Jordan & Su 2022),
checked by the two-step residual (harness.measure.two_step):

    x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k) + a s (V(x_k) - V(x_(k-1))),

a = (1 - sqrt(mu s)) / (1 + sqrt(mu s))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.rules.base import Option, Rule
from harness.rules.heavy_ball_sc import MU, tied_momentum


@dataclass(frozen=True)
class NesterovSC(Rule):
    name = "nag_sc"
    two_step = True
    options: ClassVar[tuple[Option, ...]] = (MU,)

    def momentum(self, s, k, params):
        """a at step k (module docstring)."""
        return tied_momentum(params.mu, s)

    def advance(self, V, x, x_prev, s, k, params):
        """x_(k+1) from x_k = ``x`` and x_(k-1) = ``x_prev`` (module docstring)."""
        a = self.momentum(s, k, params)
        return x + a * (x - x_prev) + s * V(x) + a * s * (V(x) - V(x_prev))

    def label(self, scheme) -> str:
        return f", mu={scheme.mu:g}"


RULE = NesterovSC()
