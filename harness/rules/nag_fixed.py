"""Nesterov's method in Sutskever's form with a fixed momentum beta as a two-step method, time step s (time
t_k = k s), checked by the two-step residual (harness.measure.two_step):

    y = x_k + beta (x_k - x_(k-1)),    x_(k+1) = y + s V(y).

It is v_(k+1) = beta v_k + s V(x_k + beta v_k), x_(k+1) = x_k + v_(k+1) with v_k = x_k - x_(k-1): the
iterates of the optimizer ``nesterov`` (harness.rules.optimizers) with h = s; nag_damped is the same step with
momentum e^(-gamma sqrt(s)) and time step sqrt(s)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.rules.heavy_ball_fixed import FixedMomentum
from harness.rules.nag_damped import NesterovDamped


@dataclass(frozen=True)
class NesterovFixed(FixedMomentum, NesterovDamped):
    """nag_damped's step with the fixed momentum beta and time step s."""

    name = "nag_fixed"


RULE = NesterovFixed()
