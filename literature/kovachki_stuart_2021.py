"""Continuous-time limits of heavy-ball and Nesterov momentum with fixed momentum beta.

Citation: N. B. Kovachki, A. M. Stuart, "Continuous Time Analysis of Momentum Methods", JMLR 22(17), 2021,
arXiv 1906.04285.
Claim: with fixed beta and time t = n h, both methods follow the second-order ODE
    a x-ddot + x-dot + grad E / (1 - beta) = 0
to O(h^2) accuracy on the invariant (slow) manifold, with
    heavy ball:  a = h (1 + beta) / (2 (1 - beta)),
    Nesterov:    a = h (1 - beta + 2 beta^2) / (2 (1 - beta)).
Notation: their h is the step h, their beta the momentum; V = -alpha grad E.
Claimed accuracy: an O(h^2)-accurate (first-order modified) equation on the slow manifold.
Provenance: quoted (K. Lyu, Z. Wang, ..., AAAI 2025, Proposition 1 / eq. 4, as recorded in the project's
notes); the paper itself was not read, and the first-order reduction below is derived here.
Reduction: on the slow manifold x-ddot = d/dt (V/(1 - beta)) + O(h) = V'V/(1 - beta)^2 + O(h), so
    x-dot = V/(1 - beta) - a V'V / (1 - beta)^2.
Rules: heavy ball in Polyak's form (scheme ``heavy_ball``, ``beta``) and Nesterov (optimizer ``nesterov``,
Sutskever's form, or ``nesterov_buffer``), previous iterate or buffers on the flow.
"""

import jax

import harness


def _reduced(V, z, h, beta, a):
    v = V(z)
    return v / (1 - beta) - a * jax.jvp(V, (z,), (v,))[1] / (1 - beta) ** 2


@harness.flow(order=1, name="heavy ball (Kovachki & Stuart 2021)")
def heavy_ball(V, z, h, *, beta):
    """The reduction with a = h (1 + beta) / (2 (1 - beta))."""
    return _reduced(V, z, h, beta, h * (1 + beta) / (2 * (1 - beta)))


@harness.flow(order=1, name="nesterov (Kovachki & Stuart 2021)")
def nesterov(V, z, h, *, optimizer):
    """The reduction with a = h (1 - beta + 2 beta^2) / (2 (1 - beta)), beta the optimizer's momentum."""
    beta = optimizer.beta
    return _reduced(V, z, h, beta, h * (1 - beta + 2 * beta ** 2) / (2 * (1 - beta)))
