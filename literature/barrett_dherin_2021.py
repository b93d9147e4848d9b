"""Implicit gradient regularisation of gradient descent.

Citation: D. G. T. Barrett, B. Dherin, "Implicit Gradient Regularization", ICLR 2021, arXiv 2009.11162.
Claim (Theorem 3.1 as widely quoted): gradient descent x' = x - h grad E(x) follows, to O(h^3) in one step,
    x-dot = -grad E~(x),   E~ = E + (h/4) |grad E|^2.
Notation: their h is the harness's step h with rate alpha = 1 (lr1 scales it: V = -alpha grad E);
grad (h/4)|grad E|^2 = (h/2) H grad E, and with V = -grad E that is V - (h/2) V'V.
Claimed accuracy: as Cattaneo, Klusowski and Shigida (ICML 2024, introduction, read at
ar5iv.labs.arxiv.org/html/2309.00079; the formulas are stripped there) summarise it, the modified loss "makes
the trajectory of the solution to approximate the sequence one order of [h] better than the original
differential equation": local error O(h^3).
Provenance: recalled (the project's notes; the paper's theorem was not read here, and the abstract does
not print the formula); written as the equivalent V - (h/2) V'V, which holds for any field.
Rule: gd on single-objective problems.
"""

import jax

import harness


@harness.flow(order=1, name="igr (Barrett & Dherin 2021)")
def igr(V, z, h):
    """V - (h/2) V'V = -grad (E + (h/4) |grad E|^2) for V = -grad E."""
    v = V(z)
    return v - (h / 2) * jax.jvp(V, (z,), (v,))[1]
