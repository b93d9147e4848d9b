"""Heavy ball with momentum tied to the step s (Shi, Du, Jordan & Su 2022), a two-step method checked against
second-order ODEs by the two-step residual (harness.measure.two_step):

    x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k),    a = (1 - sqrt(mu s)) / (1 + sqrt(mu s))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp

from harness.rules.base import Option, Rule

MU = Option("mu", 0.0, float, "strong convexity mu of heavy_ball_sc and nag_sc: momentum (1 - sqrt(mu s)) / (1 + "
            "sqrt(mu s))", check=lambda value, rule: None if value >= 0 else
            f"mu must be a finite number >= 0 for {rule}, got {value!r}")


def tied_momentum(mu, s):
    """(1 - sqrt(mu s)) / (1 + sqrt(mu s))."""
    root = jnp.sqrt(mu * s)
    return (1.0 - root) / (1.0 + root)


@dataclass(frozen=True)
class HeavyBallSC(Rule):
    name = "heavy_ball_sc"
    two_step = True
    options: ClassVar[tuple[Option, ...]] = (MU,)

    def momentum(self, s, params):
        """a (module docstring)."""
        return tied_momentum(params.mu, s)

    def advance(self, V, x, x_prev, s, k, params):
        """x_(k+1) from x_k = ``x`` and x_(k-1) = ``x_prev`` (module docstring)."""
        return x + self.momentum(s, params) * (x - x_prev) + s * V(x)

    def label(self, scheme) -> str:
        return f", mu={scheme.mu:g}"


RULE = HeavyBallSC()
