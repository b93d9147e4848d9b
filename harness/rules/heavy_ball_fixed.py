"""Heavy ball with a fixed momentum beta as a two-step method, time step s (time t_k = k s), checked against
second-order ODEs by the two-step residual (harness.measure.two_step), such as Kovachki & Stuart's
a x'' + x' = V / (1 - beta):

    x_(k+1) = x_k + beta (x_k - x_(k-1)) + s V(x_k).

It is the step of ``heavy_ball`` (on the lifted state (z, z_prev)) with h = s; heavy_ball_sc is the same step
with momentum tied to s and time step sqrt(s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from harness.rules.base import Option
from harness.rules.heavy_ball import BETA
from harness.rules.heavy_ball_sc import HeavyBallSC


class FixedMomentum:
    """What heavy_ball_fixed and nag_fixed add to the steps of heavy_ball_sc and nag_damped: the fixed momentum
    beta (option ``beta``) and the time step s."""

    options: ClassVar[tuple[Option, ...]] = (BETA,)
    time_power: ClassVar[int] = 1

    def momentum(self, s, params):
        return params.beta

    def lead(self, scheme) -> float:
        """1 / (1 - beta): the ODE's first-order field V / (1 - beta) (harness.measure.two_step scales its step
        sizes by it)."""
        return 1.0 / (1.0 - scheme.beta)

    def label(self, scheme) -> str:
        return f", beta={scheme.beta:g}"


@dataclass(frozen=True)
class HeavyBallFixed(FixedMomentum, HeavyBallSC):
    """heavy_ball_sc's step with the fixed momentum beta and time step s."""

    name = "heavy_ball_fixed"


RULE = HeavyBallFixed()
