"""The implicit regularisation of stochastic gradient descent with random reshuffling.

Citation: S. L. Smith, B. Dherin, D. G. T. Barrett, S. De, "On the Origin of Implicit Regularization in
Stochastic Gradient Descent", ICLR 2021, arXiv 2101.12176.
Claim: for a finite sum C = (1/m) sum_k C_k visited once per epoch in a random order, with learning rate
eps, the mean iterate after one epoch follows, to O(eps^3) per epoch (flow time m eps),
    x-dot = -grad C~,   C~ = C + (eps/(4m)) sum_k |grad C_k|^2.
Notation: the harness's step h is the epoch's flow time m eps, so eps = h/m; alpha (lr1) scales every step:
x-dot = -alpha grad C - (alpha^2 h/(4 m^2)) grad sum_k |grad C_k|^2. Only the mean over orderings follows
it (rule ``random_reshuffling``: the exact mean over all m! orders); one fixed order (the rule
``fixed_order`` below) is off at O(h^2).
Claimed accuracy: recalled, not read: the modified loss describes the mean iterate to second order in the
learning rate (local error O(h^3) per epoch).
Provenance: recalled (the project's notes); the paper's theorem was not read here, and the same formula is
derived in harness/games/finite_sum.py's docstring by averaging one epoch over the orders.
Rules: random_reshuffling on the catalog game finite_sum (whose components this flow uses).
"""

import jax

import harness
from harness.games.finite_sum import COMPONENTS


def _regulariser(x):
    return sum(jax.grad(c)(x) @ jax.grad(c)(x) for c in COMPONENTS)


@harness.flow(order=1, name="random reshuffling (Smith et al. 2021)")
def reshuffling(f, g, phi, theta, h, lr1, lr2):
    """-alpha grad C - (alpha^2 h/(4 m^2)) grad sum_k |grad C_k|^2, with f = -grad C."""
    m = len(COMPONENTS)
    return lr1 * f(phi, theta) - (lr1 ** 2 * h / (4 * m ** 2)) * jax.grad(_regulariser)(phi), theta


RULES = ("fixed_order",)
"""The update rules of this file (the other functions are flows)."""


@harness.rule(order=1, name="one epoch in a fixed order")
def fixed_order(f, g, phi, theta, h, lr1, lr2):
    """One epoch visiting the components in the order 1, ..., m, steps alpha h / m: not the mean iterate."""
    x = phi
    for c in COMPONENTS:
        x = x - lr1 * h / len(COMPONENTS) * jax.grad(c)(x)
    return x, theta
