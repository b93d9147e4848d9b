"""The paper's first-order modified flow of alternating GD, written by hand in the per-player notation.

Alternating GD with m substeps of size alpha h / m for phi and k of size lambda h / k for theta; the player
who moves first (``first``) is seen by the second at its new state. With phi first (joint convention):

    dphi   = alpha f  - (alpha h / 2) ((alpha / m) f_phi f + lambda f_theta g)
    dtheta = lambda g + (alpha lambda h / 2) g_phi f - (lambda^2 h / (2 k)) g_theta g

and the mirror image with theta first. The flow names the keywords m, k and first, so the harness passes
the update rule's values. It measures the same errors as the built-in ``modified`` flow:

    harness check --game bilinear --scheme alternating --m 2 --k 3 --lr1 0.4 --lr2 1.5 \\
        --flow alternating_flow.py:alternating_flow --flow modified
"""

import jax
import jax.numpy as jnp

import harness


@harness.flow(order=1)
def alternating_flow(f, g, phi, theta, h, lr1, lr2, *, m, k, first):
    """dphi, dtheta of the module docstring; the second mover's interaction term changes sign. Each
    player's bracket is one directional derivative: f_phi (alpha f / m) + s f_theta (lambda g) = df(...)."""
    f0, df = jax.linearize(f, phi, theta)  # df(u, v) = f_phi u + f_theta v, no Jacobian formed
    g0, dg = jax.linearize(g, phi, theta)
    sign_phi, sign_theta = (1, -1) if first == "phi" else (-1, 1)
    dphi = lr1 * f0 - (lr1 * h / 2) * df(lr1 / m * f0, sign_phi * lr2 * g0)
    dtheta = lr2 * g0 - (lr2 * h / 2) * dg(sign_theta * lr1 * f0, lr2 / k * g0)
    return dphi, dtheta


@harness.flow(order=1)
def alternating_flow_joint(V, z, h, *, m, k, first, n_phi):
    """The same flow in the joint notation, V = (alpha f, lambda g) on z = [phi..., theta...]: phi's part
    of V'(z) u with u = (alpha f / m, s_phi lambda g), theta's part of V'(z) u with u = (s_theta alpha f,
    lambda g / k)."""
    v = V(z)
    is_phi = jnp.arange(z.size) < n_phi
    sign_phi, sign_theta = (1, -1) if first == "phi" else (-1, 1)
    for_phi = jax.jvp(V, (z,), (jnp.where(is_phi, v / m, sign_phi * v),))[1][:n_phi]  # V'(z) u, phi's part
    for_theta = jax.jvp(V, (z,), (jnp.where(is_phi, sign_theta * v, v / k),))[1][n_phi:]
    return v - (h / 2) * jnp.concatenate([for_phi, for_theta])
