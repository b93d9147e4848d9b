"""Classical momentum with momentum e^(-gamma sqrt(s)) (França, Sulam, Robinson & Vidal 2020), a two-step method
checked against second-order ODEs by the two-step residual (harness.measure.two_step):

    x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k),    a = e^(-gamma sqrt(s)).

It is França et al.'s classical momentum v_(k+1) = mu v_k - eps grad f(x_k), x_(k+1) = x_k + v_(k+1) with
v_k = x_k - x_(k-1), mu = e^(-gamma h), eps = s, V = -grad f (alpha = 1) and mass 1: time step h = sqrt(s),
damping gamma (heavy_ball_sc is the same step with a = (1 - sqrt(mu s)) / (1 + sqrt(mu s)))."""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from harness.rules.base import Option
from harness.rules.heavy_ball_sc import HeavyBallSC

GAMMA = Option("gamma", 0.0, float, "damping gamma of heavy_ball_damped and nag_damped: momentum e^(-gamma sqrt(s))",
               check=lambda value, rule: None if value >= 0 else
               f"gamma must be a finite number >= 0 for {rule}, got {value!r}")


def damped_momentum(gamma, s):
    """e^(-gamma sqrt(s))."""
    return jnp.exp(-gamma * jnp.sqrt(s))


@dataclass(frozen=True)
class HeavyBallDamped(HeavyBallSC):
    """heavy_ball_sc's step with momentum e^(-gamma sqrt(s))."""

    name = "heavy_ball_damped"
    options = (GAMMA,)

    def momentum(self, s, params):
        return damped_momentum(params.gamma, s)

    def label(self, scheme) -> str:
        return f", gamma={scheme.value('gamma'):g}"


RULE = HeavyBallDamped()
