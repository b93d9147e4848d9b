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

import harness


def jvp(field, phi, theta, dphi, dtheta):
    """field_phi dphi + field_theta dtheta: one Jacobian-vector product (no Jacobian is formed)."""
    return jax.jvp(field, (phi, theta), (dphi, dtheta))[1]


@harness.flow(order=1)
def alternating_flow(f, g, phi, theta, h, lr1, lr2, *, m, k, first):
    """dphi, dtheta of the module docstring; the second mover's interaction term changes sign."""
    f0, g0 = f(phi, theta), g(phi, theta)
    no_phi, no_theta = 0 * phi, 0 * theta
    f_phi_f, f_theta_g = jvp(f, phi, theta, f0, no_theta), jvp(f, phi, theta, no_phi, g0)
    g_phi_f, g_theta_g = jvp(g, phi, theta, f0, no_theta), jvp(g, phi, theta, no_phi, g0)
    sign_phi, sign_theta = (1, -1) if first == "phi" else (-1, 1)
    dphi = lr1 * f0 - (lr1 * h / 2) * ((lr1 / m) * f_phi_f + sign_phi * lr2 * f_theta_g)
    dtheta = lr2 * g0 - (lr2 * h / 2) * ((lr2 / k) * g_theta_g + sign_theta * lr1 * g_phi_f)
    return dphi, dtheta


@harness.flow(order=1)
def alternating_flow_joint(V, z, h, *, m, k, first, n_phi):
    """The same flow in the joint notation, V = (alpha f, lambda g) on z = [phi..., theta...]:
    dz = V - (h/2) (V_phi (V_phi-part / m) + s V_theta-part...), written with two JVPs of V."""
    v = V(z)
    on_phi = v.at[n_phi:].set(0.0)  # (alpha f, 0)
    on_theta = v.at[:n_phi].set(0.0)  # (0, lambda g)
    along_phi = jax.jvp(V, (z,), (on_phi,))[1]  # (alpha f_phi alpha f, lambda g_phi alpha f)
    along_theta = jax.jvp(V, (z,), (on_theta,))[1]  # (alpha f_theta lambda g, lambda g_theta lambda g)
    sign_phi, sign_theta = (1, -1) if first == "phi" else (-1, 1)
    correction_phi = along_phi[:n_phi] / m + sign_phi * along_theta[:n_phi]
    correction_theta = along_theta[n_phi:] / k + sign_theta * along_phi[n_phi:]
    return v - (h / 2) * jax.numpy.concatenate([correction_phi, correction_theta])
