"""The second-order ODE of heavy-ball and Nesterov momentum with fixed momentum beta, checked by its two-step residual.

Citation: N. B. Kovachki, A. M. Stuart, "Continuous Time Analysis of Momentum Methods", JMLR 22(17), 2021,
arXiv 1906.04285, as quoted by B. Lyu, H. Wang, Z. Wang, Z. Zhu, "Effects of Momentum in Implicit Bias of
Gradient Flow for Diagonal Linear Networks", AAAI 2025, Proposition 1.
Claim: heavy ball and Nesterov with step h and fixed momentum beta follow, with time t = k h, the second-order
ODE quoted by Lyu et al. (read, in a Markdown copy of the paper, its LaTeX written out here; "Eq. (4) follows
from Kovachki and Stuart (2021)"):
    "α β̈ + β̇ + ∇L(β)/(1 − μ) = 0, (4) where α = η(1 + μ)/(2(1 − μ)) for HB, and
    α = η(1 − μ + 2μ²)/(2(1 − μ)) for NAG", that is
    a x-ddot + x-dot = V / (1 - beta),
    heavy ball:  a = h (1 + beta) / (2 (1 - beta)),
    Nesterov:    a = h (1 - beta + 2 beta^2) / (2 (1 - beta)).
Notation: Lyu et al.'s eta is the step h, their mu the momentum beta, their beta the iterate x and L the loss E,
V = -alpha grad E; heavy ball in Polyak's form and Nesterov in Sutskever's form as two-step methods with time
step h: the rules ``heavy_ball_fixed`` and ``nag_fixed`` (harness.measure.two_step).
Claimed accuracy: Lyu et al. state (4) as the "O(η) continuous approximate version" of the methods in the sense
of their Definition 1 (sup over 0 <= k eta <= T of |beta_k - beta-bar_k| <= C eta); Kovachki and Stuart's own
statement of the accuracy was not read. The check measures the methods' two-step residual on the ODE's exact
solutions: O(h^3) (slope 3 in the time step h), against O(h^2) for another coefficient a (the ODE keeps the
methods' O(h) correction; the first-order reduction is checked in kovachki_stuart_2021.py).
Provenance: quoted (the ODE and its two coefficients, read in Lyu et al.'s Proposition 1 above); Kovachki and
Stuart's printed statement was not read. The slow-manifold velocity the exact solutions start from is derived
here (below).
Regime: the ODE has a fast mode, e^(-t/a) with a = O(h), that the methods do not have; their iterates follow its
slow manifold x-dot = u(x), u = F - a u'u with F = V / (1 - beta), and the residual is O(h^3) only there. Exact
solutions start from x with the velocity u(x) to O(a^4) (``slow_velocity``: three iterations of the fixed point
from u = F); from the velocity V(x) they carry the fast mode, and the residual is O(h).
"""

import jax

import harness

SLOW_ITERATIONS = 3
"""Fixed-point iterations u <- F - a u'u from u = F: the slow manifold's velocity to O(a^(SLOW_ITERATIONS + 1))."""


def heavy_ball_a(h, beta):
    """a = h (1 + beta) / (2 (1 - beta)) (heavy ball)."""
    return h * (1 + beta) / (2 * (1 - beta))


def nesterov_a(h, beta):
    """a = h (1 - beta + 2 beta^2) / (2 (1 - beta)) (Nesterov)."""
    return h * (1 - beta + 2 * beta ** 2) / (2 * (1 - beta))


def slow_velocity(V, x, a, beta, iterations=SLOW_ITERATIONS):
    """u(x) on the slow manifold of a x-ddot + x-dot = F(x), F = V / (1 - beta): u = F - a u'u, iterated from
    u = F (each iteration gains one order in a)."""
    def force(y):
        return V(y) / (1 - beta)

    velocity = force
    for _ in range(iterations):
        velocity = (lambda u: lambda y: force(y) - a * jax.jvp(u, (y,), (u(y),))[1])(velocity)
    return velocity(x)


def _acceleration(V, x, v, a, beta):
    """x-ddot = (V / (1 - beta) - x-dot) / a."""
    return (V(x) / (1 - beta) - v) / a


def _heavy_ball_start(V, x, s, *, beta):
    return slow_velocity(V, x, heavy_ball_a(s, beta), beta)


def _nesterov_start(V, x, s, *, beta):
    return slow_velocity(V, x, nesterov_a(s, beta), beta)


@harness.flow(order=1, name="heavy ball ODE (Kovachki & Stuart 2021)", initial_velocity=_heavy_ball_start)
def heavy_ball(V, x, v, t, s, *, beta):
    """(4) for heavy ball: x-ddot = (V / (1 - beta) - x-dot) / a, a = s (1 + beta) / (2 (1 - beta))."""
    return _acceleration(V, x, v, heavy_ball_a(s, beta), beta)


@harness.flow(order=1, name="Nesterov ODE (Kovachki & Stuart 2021)", initial_velocity=_nesterov_start)
def nesterov(V, x, v, t, s, *, beta):
    """(4) for Nesterov: x-ddot = (V / (1 - beta) - x-dot) / a, a = s (1 - beta + 2 beta^2) / (2 (1 - beta))."""
    return _acceleration(V, x, v, nesterov_a(s, beta), beta)
