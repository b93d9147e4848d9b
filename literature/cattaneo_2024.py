"""The implicit bias of Adam and RMSProp: their first-order modified flows.

Citation: M. D. Cattaneo, J. M. Klusowski, B. Shigida, "On the Implicit Bias of Adam", ICML 2024,
arXiv 2309.00079.
Claim (abstract, printed): Adam and RMSProp follow ODEs that match them up to second order in the step,
which penalise or anti-penalise a perturbed 1-norm of the gradient depending on whether beta_2 > beta_1
and on eps.
Notation: their rho is beta_2, their beta is beta_1, their h the step h; u = -grad E per coordinate, rate r.
Claimed accuracy: "match ... up to second order in the step" (local error O(h^3)).
Provenance: derived here (docs/theory.md §7); the theorem's coefficients were not read.
Derivation: with eps inside the root, buffers on the flow (no bias left), N = sqrt(u^2 + eps), G = r u / N
and lam_i = beta_i/(1 - beta_i):
    x-dot = G + h (r [lam_2 u^2 (u'G) / N^3 - lam_1 (u'G) / N] - G'G / 2)   (RMSProp: beta_1 = 0).
As eps -> 0 this is the sign flow of E - h r (lam_2 - lam_1) |grad E|_1 per coordinate: the 1-norm is
anti-penalised when beta_2 > beta_1, as the abstract says.
Rules: optimizer ``adam`` or ``rmsprop`` with eps inside the root, on the flow, single objectives (the
formula is per player: u is the raw field of a single-objective problem).
"""

import jax
import jax.numpy as jnp

import harness


@harness.flow(order=1, name="adam (Cattaneo et al. 2024, derived)")
def adam(f, g, phi, theta, h, lr1, lr2, *, optimizer):
    """The formula above for player 1 (a single-objective problem has no theta)."""
    eps = optimizer.eps
    lag1 = optimizer.beta1 / (1 - optimizer.beta1) if optimizer.name == "adam" else 0.0
    lag2 = optimizer.beta2 / (1 - optimizer.beta2)
    lead = lambda x: lr1 * f(x, theta) / jnp.sqrt(f(x, theta) ** 2 + eps)  # noqa: E731
    u, n, gx = f(phi, theta), jnp.sqrt(f(phi, theta) ** 2 + eps), lead(phi)
    ug = jax.jvp(lambda x: f(x, theta), (phi,), (gx,))[1]
    correction = lr1 * (lag2 * u ** 2 * ug / n ** 3 - lag1 * ug / n) - 0.5 * jax.jvp(lead, (phi,), (gx,))[1]
    return gx + h * correction, jnp.zeros_like(theta)
