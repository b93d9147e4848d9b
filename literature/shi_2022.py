"""High-resolution ODEs of heavy ball, NAG-SC and NAG-C, and the low-resolution ODEs they refine.

Citation: B. Shi, S. S. Du, M. I. Jordan, W. J. Su, "Understanding the acceleration phenomenon via
high-resolution differential equations", Mathematical Programming 195:79-148, 2022, arXiv 1810.08907,
eqs. (1.10), (1.11), (1.12).
Claims: with step s, alpha = (1 - sqrt(mu s)) / (1 + sqrt(mu s)) and x_k = X(t_k), the methods
    heavy ball  x_(k+1) = x_k + alpha (x_k - x_(k-1)) - s grad f(x_k)
    NAG-SC      x_(k+1) = x_k + alpha (x_k - x_(k-1)) - s grad f(x_k) - alpha s (grad f(x_k) - grad f(x_(k-1)))
    NAG-C       the same with k / (k + 3) in place of alpha
follow the high-resolution ODEs
    (1.10) X'' + 2 sqrt(mu) X' + (1 + sqrt(mu s)) grad f(X) = 0
    (1.11) X'' + 2 sqrt(mu) X' + sqrt(s) hess f(X) X' + (1 + sqrt(mu s)) grad f(X) = 0
    (1.12) X'' + (3/t) X' + sqrt(s) hess f(X) X' + (1 + 3 sqrt(s) / (2t)) grad f(X) = 0
which keep the O(sqrt(s)) terms that the low-resolution ODEs X'' + 2 sqrt(mu) X' + grad f(X) = 0 (heavy ball
and NAG-SC alike) and X'' + (3/t) X' + grad f(X) = 0 (NAG-C; Su, Boyd and Candes 2016) drop.
Notation: grad f = -V (alpha = 1), hess f(X) X' = -V'(X) X', time step tau = sqrt(s); the rules are
``heavy_ball_sc``, ``nag_sc`` (with ``mu``) and ``nag_c``.
Claimed accuracy: the ODEs are "high-resolution": they keep the method's O(sqrt(s)) corrections, so that the
method's two-step residual on an exact solution is O(s^2) instead of the low-resolution ODEs' O(s^(3/2))
(harness.measure.two_step); the paper states convergence as s -> 0, without a rate.
Provenance: quoted (the paper itself was not read): (1.11) and (1.12) with their initial conditions and the
initial time t_0 = 1.5 sqrt(s) of Section 4.1 are read in the Lean formalisation published on prove2.me
("Prove2me", definitions HighResODE.NAGSCODE.IsNAGSCODE and HighResODE.NAGCODE.IsNAGCODE, which cite
arXiv 1810.08907v3 by page and equation number: p. 5, (1.11) and (1.12); p. 21, Section 4.1), and (1.10) in its
heavy-ball theorems (HighResODE.HeavyBallODE, the derivative display of App. B.1, p. 50: X-ddot =
-2 sqrt(mu) X-dot - (1 + sqrt(mu s)) grad f(X)). The time identification t_k = (k + 3/2) sqrt(s) of NAG-C is
derived here from that initial time (x_0 at t_0); the check measures both it and t_k = k sqrt(s).
Regime: NAG-C's residual is O(s^2) only with t_k = (k + 3/2) sqrt(s); with t_k = k sqrt(s) its O(s^(3/2))
terms no longer cancel (docs/theory.md §8).
"""

import jax
import jax.numpy as jnp

import harness


def _hessian_times(V, x, v):
    """hess f(x) v = -V'(x) v (one JVP)."""
    return -jax.jvp(V, (x,), (v,))[1]


@harness.flow(order=1, name="heavy ball HR-ODE (Shi et al. 2022)")
def heavy_ball(V, x, v, t, s, *, mu):
    """(1.10): X'' = -2 sqrt(mu) X' + (1 + sqrt(mu s)) V(X)."""
    return -2 * jnp.sqrt(mu) * v + (1 + jnp.sqrt(mu * s)) * V(x)


@harness.flow(order=1, name="NAG-SC HR-ODE (Shi et al. 2022)")
def nag_sc(V, x, v, t, s, *, mu):
    """(1.11): X'' = -2 sqrt(mu) X' - sqrt(s) hess f(X) X' + (1 + sqrt(mu s)) V(X)."""
    return -2 * jnp.sqrt(mu) * v - jnp.sqrt(s) * _hessian_times(V, x, v) + (1 + jnp.sqrt(mu * s)) * V(x)


@harness.flow(order=1, name="NAG-C HR-ODE (Shi et al. 2022)", time_offset=1.5)
def nag_c(V, x, v, t, s):
    """(1.12) with t_k = (k + 3/2) sqrt(s): X'' = -(3/t) X' - sqrt(s) hess f(X) X' + (1 + 3 sqrt(s) / (2t)) V(X)."""
    return -3 / t * v - jnp.sqrt(s) * _hessian_times(V, x, v) + (1 + 3 * jnp.sqrt(s) / (2 * t)) * V(x)


@harness.flow(order=1, name="NAG-C HR-ODE, t_k = k sqrt(s) (Shi et al. 2022)", time_offset=0.0)
def nag_c_unshifted(V, x, v, t, s):
    """(1.12) with t_k = k sqrt(s)."""
    return nag_c(V, x, v, t, s)


@harness.flow(order=0, name="low-resolution ODE of heavy ball and NAG-SC")
def strongly_convex_low_resolution(V, x, v, t, s, *, mu):
    """X'' = -2 sqrt(mu) X' + V(X)."""
    return -2 * jnp.sqrt(mu) * v + V(x)


@harness.flow(order=0, name="low-resolution ODE of NAG-C (Su, Boyd & Candes 2016)", time_offset=1.5)
def nag_c_low_resolution(V, x, v, t, s):
    """X'' = -(3/t) X' + V(X)."""
    return -3 / t * v + V(x)
