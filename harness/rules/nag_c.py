"""Nesterov's method for convex functions (Shi, Du, Jordan & Su 2022): nag_sc's step with momentum k / (k + 3) at
step k, checked by the two-step residual (harness.measure.two_step) near a fixed time t_k = (k + c) sqrt(s)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.rules.nag_sc import NesterovSC


@dataclass(frozen=True)
class NesterovC(NesterovSC):
    name = "nag_c"
    options = ()

    def momentum(self, s, k, params):
        return k / (k + 3.0)

    def label(self, scheme) -> str:
        return ""


RULE = NesterovC()
