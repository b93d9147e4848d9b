"""Look-ahead gradient descent and its first-order modified flow, written by hand in the paper's notation.

The rule (not one the harness ships): each player steps with its field evaluated where the other player
is about to be,

    phi'   = phi   + alpha h  f(phi, theta + lambda h g(phi, theta))
    theta' = theta + lambda h g(phi + alpha h f(phi, theta), theta)

Expanding one step in h: phi' = phi + alpha h f + alpha lambda h^2 f_theta g + O(h^3) (and the mirror for
theta). A flow z' = V + h V_1, V = (alpha f, lambda g), moves z + h V + h^2 (V_1 + V'V / 2) + O(h^3) in time
h, so V_1 = (alpha lambda f_theta g, alpha lambda g_phi f) - V'V / 2:

    dphi   = alpha f  - (alpha h / 2)  (alpha f_phi f    - lambda f_theta g)
    dtheta = lambda g - (lambda h / 2) (lambda g_theta g - alpha g_phi f)

Both interaction terms have the opposite sign to simultaneous GD's. Check it (slope 3, exit 0):

    harness check --game dirac_gan --scheme lookahead.py:lookahead --lr1 0.7 --lr2 1.3 \\
        --flow lookahead.py:lookahead_flow

``lookahead_flow_wrong`` has one coefficient wrong (the sign of player 1's interaction term): slope 2, exit 1.
"""

import jax

import harness


def lookahead(f, g, phi, theta, h, lr1, lr2):
    """One look-ahead step (the update rule, per player)."""
    phi_next = phi + lr1 * h * f(phi, theta + lr2 * h * g(phi, theta))
    theta_next = theta + lr2 * h * g(phi + lr1 * h * f(phi, theta), theta)
    return phi_next, theta_next


@harness.flow(order=1)
def lookahead_flow(f, g, phi, theta, h, lr1, lr2):
    """The first-order modified flow of ``lookahead`` (module docstring)."""
    f0, df = jax.linearize(f, phi, theta)  # df(u, v) = f_phi u + f_theta v, no Jacobian formed
    g0, dg = jax.linearize(g, phi, theta)
    f_phi_f, f_theta_g = df(f0, 0 * theta), df(0 * phi, g0)
    g_phi_f, g_theta_g = dg(f0, 0 * theta), dg(0 * phi, g0)
    dphi = lr1 * f0 - (lr1 * h / 2) * (lr1 * f_phi_f - lr2 * f_theta_g)
    dtheta = lr2 * g0 - (lr2 * h / 2) * (lr2 * g_theta_g - lr1 * g_phi_f)
    return dphi, dtheta


@harness.flow(order=1)
def lookahead_flow_wrong(f, g, phi, theta, h, lr1, lr2):
    """``lookahead_flow`` with one coefficient wrong: + lambda f_theta g (simultaneous GD's sign)."""
    f0, df = jax.linearize(f, phi, theta)  # df(u, v) = f_phi u + f_theta v, no Jacobian formed
    g0, dg = jax.linearize(g, phi, theta)
    f_phi_f, f_theta_g = df(f0, 0 * theta), df(0 * phi, g0)
    g_phi_f, g_theta_g = dg(f0, 0 * theta), dg(0 * phi, g0)
    dphi = lr1 * f0 - (lr1 * h / 2) * (lr1 * f_phi_f + lr2 * f_theta_g)
    dtheta = lr2 * g0 - (lr2 * h / 2) * (lr2 * g_theta_g - lr1 * g_phi_f)
    return dphi, dtheta
