"""The user's own rule (harness.model.user): ``rule(f, g, phi, theta, h, lr1, lr2) -> (phi', theta')`` per player or
``rule(V, z, h) -> z'`` jointly, in a file (``rule="path/to/file.py:NAME"``) or a function. It receives the options
it names as keywords (m, k, first, beta, and ``--param`` values)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.base.errors import FlowError
from harness.model.game import Game
from harness.model.user import joint_function
from harness.rules.alternating import FIRST, K, M
from harness.rules.base import Option, Rule

BETA = Option("beta", 0.0, float, "a user rule's beta, if it names one")


@dataclass(frozen=True)
class UserRule(Rule):
    name = "user"
    options = (M, K, FIRST, BETA)

    def structure(self, scheme: Any) -> tuple:
        rule = scheme.user_rule
        return ("user", rule, rule.keywords_from(scheme))

    def step(self, game: Game, structure: tuple) -> Callable:
        return joint_function(structure[1], game, structure[2])

    def method_order(self, scheme: Any) -> int:
        return scheme.user_rule.order

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        raise FlowError(f"no closed-form {flow!r} flow for your rule {scheme.rule_label}; check it against gradient, "
                        "bea:P or your own flow (path/to/file.py:NAME)")

    def substeps(self, scheme: Any) -> int:
        return int(scheme.m) + int(scheme.k)


RULE = UserRule()
