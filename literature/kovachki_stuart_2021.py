"""Continuous-time limits of heavy-ball and Nesterov momentum with fixed momentum beta.

Citation: N. B. Kovachki, A. M. Stuart, "Continuous Time Analysis of Momentum Methods", JMLR 22(17), 2021,
arXiv 1906.04285.
Claim: the abstract (printed, read at ar5iv.labs.arxiv.org/html/1906.04285): "We prove three such
approximations"; the first is "a time-rescaled gradient descent flow, asymptotically as the learning rate
shrinks to zero", the other two concern "the non-asymptotic regime with fixed small, but non-zero, learning
rate" (the excerpt read ends before it states them). The second-order ODE, as recorded in the project's notes
from the paper that quotes it (not read here), with fixed beta and time t = n h:
    a x-ddot + x-dot + grad E / (1 - beta) = 0,
    heavy ball:  a = h (1 + beta) / (2 (1 - beta)),
    Nesterov:    a = h (1 - beta + 2 beta^2) / (2 (1 - beta)).
Notation: their h is the step h, their beta the momentum; V = -alpha grad E.
Claimed accuracy: the quoting paper (B. Lyu, H. Wang, Z. Wang, Z. Zhu, AAAI 2025, as the audit of issue 30
names it; not read here) states an O(eta) approximation, which conflicts with the O(h^2) this file used to
state; neither was read in Kovachki and Stuart. The checks measure the first-order reduction below: local
error O(h^3) per step (slope 3), from the previous iterate or buffers on the flow.
Provenance: derived here (the first-order reduction below of the second-order ODE; the coefficient a is as
quoted by the paper above, per the project's notes); the paper's printed statement was not read.
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
