"""Continuous-time limits of heavy-ball and Nesterov momentum with fixed momentum beta.

Citation: N. B. Kovachki, A. M. Stuart, "Continuous Time Analysis of Momentum Methods", JMLR 22(17), 2021,
arXiv 1906.04285.
Claim: the abstract (printed, read at ar5iv.labs.arxiv.org/html/1906.04285): "We prove three such
approximations"; the first is "a time-rescaled gradient descent flow, asymptotically as the learning rate
shrinks to zero", the other two concern "the non-asymptotic regime with fixed small, but non-zero, learning
rate" (the excerpt read ends before it states them). The second-order ODE, with fixed momentum and time t = n h,
as quoted by B. Lyu, H. Wang, Z. Wang, Z. Zhu, "Effects of Momentum in Implicit Bias of Gradient Flow for
Diagonal Linear Networks", AAAI 2025, Proposition 1 (read, in a Markdown copy of the paper, its LaTeX written
out here; "Eq. (4) follows from Kovachki and Stuart (2021)"):
    "α β̈ + β̇ + ∇L(β)/(1 − μ) = 0, (4) where α = η(1 + μ)/(2(1 − μ)) for HB, and
    α = η(1 − μ + 2μ²)/(2(1 − μ)) for NAG", that is
    a x-ddot + x-dot + grad E / (1 - beta) = 0,
    heavy ball:  a = h (1 + beta) / (2 (1 - beta)),
    Nesterov:    a = h (1 - beta + 2 beta^2) / (2 (1 - beta)).
Notation: Lyu et al.'s eta is the step h, their mu the momentum beta, their beta the iterate x and L the loss E
(heavy ball as p_(k+1) = mu p_k - eta grad L(beta_k), beta_(k+1) = beta_k + p_(k+1), Polyak's form; Nesterov in
Sutskever's form); V = -alpha grad E.
Claimed accuracy: Lyu et al. state (4) as the "O(η) continuous approximate version" of heavy ball and Nesterov
in the sense of their Definition 1, sup over 0 <= k eta <= T of |beta_k - beta-bar_k| <= C eta, a global error
O(h); Kovachki and Stuart's own statement of the accuracy was not read. The checks measure the first-order
reduction below: local error O(h^3) per step (slope 3), from the previous iterate or buffers on the flow (the
second-order ODE itself, by its two-step residual: kovachki_stuart_2021_ode.py).
Provenance: derived here (the first-order reduction below of the second-order ODE; the coefficient a is quoted,
read in Lyu et al.'s Proposition 1 above); Kovachki and Stuart's printed statement was not read.
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
