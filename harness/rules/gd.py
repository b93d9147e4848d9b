"""Gradient descent on one objective: the simultaneous rule, z' = z + h V(z) with V = -alpha grad E."""

from __future__ import annotations

from dataclasses import dataclass

from harness.rules.simultaneous import Simultaneous


@dataclass(frozen=True)
class GradientDescent(Simultaneous):
    name = "gd"
    kinds = ()


RULE = GradientDescent()
