"""Lookahead (Zhang, Lucas, Hinton & Ba 2019): k = ``inner`` steps of a one-step base rule from z, then a step of
size a toward where they ended, z' = z + a (z_k - z). With gradient descent as base, z_k = z + khV +
(k(k - 1)/2) h^2 V'V + O(h^3), so the rule follows the flow of a k V and its first-order flow is

    a k V + h (a k / 2)(k - 1 - a k) V'V,

whose one-step error is O(h^3). Unless a = 1 the rule is of order 1 whatever its base (the h^2 term is a k^2/2 V'V,
not (a k)^2/2 V'V)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.base.errors import FlowError
from harness.model.game import Game
from harness.rules.base import Option, Rule, joint, no_official

BASES = ("simultaneous", "gd", "extragradient", "midpoint", "rk4", "proximal_point")
A = Option("a", 0.5, float, "step a toward the inner iterate, z' = z + a (z_k - z), in (0, 1] (lookahead)",
           check=lambda value, rule: None if 0 < value <= 1 else f"a must be in (0, 1] for {rule}, got {value!r}")
INNER = Option("inner", 5, int, "inner steps k of the base rule (lookahead)")
BASE = Option("base", "simultaneous", str, "the base rule of the inner steps (lookahead)", choices=BASES)


@dataclass(frozen=True)
class Lookahead(Rule):
    name = "lookahead"
    options = (A, INNER, BASE)

    def structure(self, scheme: Any) -> tuple:
        return ("lookahead", scheme.value("base"), scheme.value("inner"), scheme.value("a"))

    def step(self, game: Game, structure: tuple) -> Callable:
        from harness.rules import RULES

        _, base, inner, a = structure
        base_step = RULES[base].step(game, (base,))

        def lookahead(z, h, params):
            z_k = z
            for _ in range(inner):
                z_k = base_step(z_k, h, params)
            return z + a * (z_k - z)

        return lookahead

    def method_order(self, scheme: Any) -> int:
        from harness.rules import RULES

        return RULES[scheme.value("base")].order if scheme.value("a") == 1 else 1

    def lead(self, scheme: Any) -> float:
        return scheme.value("a") * scheme.value("inner")

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        if scheme.value("base") not in ("simultaneous", "gd"):
            raise FlowError(f"no closed-form {flow!r} flow for lookahead over {scheme.value('base')}; check it "
                            "against gradient or bea:P")
        ak, k = self.lead(scheme), scheme.value("inner")
        return -ak * (k - 1 - ak) * joint(scheme)

    def label(self, scheme: Any) -> str:
        return f", a={scheme.value('a'):g}, inner={scheme.value('inner')}, base={scheme.value('base')}"

    def substeps(self, scheme: Any) -> int:
        return int(scheme.value("inner"))


RULE = Lookahead()
