"""The deterministic drifts of SAM and USAM, and their first-order modified flows.

Citation: E. M. Compagnoni, L. Biggio, A. Orvieto, F. N. Proske, H. Kersting, A. Lucchi, "An SDE for Modeling
SAM: Theory and Insights", ICML 2023, arXiv 2301.08203.
Claim: the abstract (printed, read at ar5iv.org/html/2301.08203 and hugging.y1ng.com/papers/2301.08203.md):
"the derivation of continuous-time models (in the form of SDEs) for SAM and two of its variants, both for the
full-batch and mini-batch settings", "rigorous approximations of the real discrete-time algorithms (in a weak
sense, scaling linearly with the learning rate)", and SAM "minimizes an implicitly regularized loss". The
drifts checked, derived here for the full-batch methods with step h and radius rho:
    USAM  x' = x - h grad E(x + rho grad E(x)):             x-dot = -grad (E + (rho/2) |grad E|^2)
    SAM   x' = x - h grad E(x + rho grad E / |grad E|):      x-dot = -grad (E + rho |grad E|)
(the step's field expanded to first order in rho: grad E(x + rho n) = grad E + rho hess E n + O(rho^2)).
Claimed accuracy: "scaling linearly with the learning rate" (weak order 1): for a deterministic drift, local
error O(h^2) per step, the drift as a flow of order 0 (slope 2), with rho = O(h) or rho = O(sqrt(h)) (the
paper's scaling of rho was not read; both are checked: rho = h and rho = sqrt(h)/2). Not a first-order
modified flow: with rho = c h one step is also -h grad E - c h^2 hess E n + O(h^3), and matching the flow over
time h adds gradient descent's -(h/2) hess E grad E (derived here):
    USAM  x-dot = -grad (E + (rho/2) |grad E|^2 + (h/4) |grad E|^2)
    SAM   x-dot = -grad (E + rho |grad E| + (h/4) |grad E|^2),
first-order modified flows (slope 3), checked at rho = h. `harness derive --scheme
literature/compagnoni_2023.py:usam --players 1 --order 1` gives USAM's h^1 term h (-alpha^2/2 - alpha) f' f, the
same at rho = h (SAM's unit vector is no elementary differential: derive says so, and the check alone tests it).
Notation: f = -grad E (alpha = lr1 = 1), f' f = hess E grad E; rho is fixed per rule as a function of h.
Provenance: derived here (the expansions above); the paper's SDEs, their drifts and the scaling of rho were
not read.
Rules: usam, sam (rho = h) and usam_root, sam_root (rho = sqrt(h)/2) on single objectives, full batch.
Regime: usam_root is checked on Rosenbrock only: on quadratic_objective its fitted slope is 2.19 over the
default steps (2.3e-4 to 7.2e-3) and 2.12 over two decades up to 3e-3 (both measured), tending to 2 as the
steps shrink: the drift's dependence on sqrt(h) leaves an O(h^(5/2)) term beside the O(h^2) one.
"""

import jax
import jax.numpy as jnp

import harness


def _linear(h):
    return h


def _root(h):
    return 0.5 * jnp.sqrt(h)


def _ascent(f, x, theta, normalised):
    """grad E at x, or its unit vector (SAM's ascent direction)."""
    grad = -f(x, theta)
    return grad / jnp.linalg.norm(grad) if normalised else grad


def _step(f, phi, theta, h, lr1, radius, normalised):
    rho = radius(h)
    return phi + lr1 * h * f(phi + rho * _ascent(f, phi, theta, normalised), theta), theta


RULES = ("usam", "sam", "usam_root", "sam_root")
"""The update rules of this file (the other functions are flows)."""


@harness.rule(order=1, name="USAM, rho = h")
def usam(f, g, phi, theta, h, lr1, lr2):
    """x' = x - alpha h grad E(x + rho grad E(x)), rho = h."""
    return _step(f, phi, theta, h, lr1, _linear, False)


@harness.rule(order=1, name="SAM, rho = h")
def sam(f, g, phi, theta, h, lr1, lr2):
    """x' = x - alpha h grad E(x + rho grad E / |grad E|), rho = h."""
    return _step(f, phi, theta, h, lr1, _linear, True)


@harness.rule(order=1, name="USAM, rho = sqrt(h)/2")
def usam_root(f, g, phi, theta, h, lr1, lr2):
    """USAM with rho = sqrt(h)/2."""
    return _step(f, phi, theta, h, lr1, _root, False)


@harness.rule(order=1, name="SAM, rho = sqrt(h)/2")
def sam_root(f, g, phi, theta, h, lr1, lr2):
    """SAM with rho = sqrt(h)/2."""
    return _step(f, phi, theta, h, lr1, _root, True)


def _field(f, phi, theta, h, lr1, radius, normalised, modified):
    """alpha (f - rho hess E n) - (alpha^2 h/2) hess E grad E when ``modified``; n = grad E (USAM) or its unit
    vector (SAM)."""
    u = f(phi, theta)
    hess = lambda v: -jax.jvp(lambda x: f(x, theta), (phi,), (v,))[1]  # noqa: E731
    drift = u - radius(h) * hess(_ascent(f, phi, theta, normalised))
    return lr1 * drift - (lr1 ** 2 * h / 2 * hess(-u) if modified else 0.0), theta


@harness.flow(order=0, name="USAM drift (Compagnoni et al. 2023, derived), rho = h")
def usam_drift(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + (rho/2) |grad E|^2), rho = h."""
    return _field(f, phi, theta, h, lr1, _linear, False, False)


@harness.flow(order=0, name="SAM drift (Compagnoni et al. 2023, derived), rho = h")
def sam_drift(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + rho |grad E|), rho = h."""
    return _field(f, phi, theta, h, lr1, _linear, True, False)


@harness.flow(order=0, name="USAM drift (Compagnoni et al. 2023, derived), rho = sqrt(h)/2")
def usam_drift_root(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + (rho/2) |grad E|^2), rho = sqrt(h)/2."""
    return _field(f, phi, theta, h, lr1, _root, False, False)


@harness.flow(order=0, name="SAM drift (Compagnoni et al. 2023, derived), rho = sqrt(h)/2")
def sam_drift_root(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + rho |grad E|), rho = sqrt(h)/2."""
    return _field(f, phi, theta, h, lr1, _root, True, False)


@harness.flow(order=1, name="USAM first-order modified flow (derived), rho = h")
def usam_modified(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + (rho/2) |grad E|^2 + (h/4) |grad E|^2), rho = h."""
    return _field(f, phi, theta, h, lr1, _linear, False, True)


@harness.flow(order=1, name="SAM first-order modified flow (derived), rho = h")
def sam_modified(f, g, phi, theta, h, lr1, lr2):
    """-grad (E + rho |grad E| + (h/4) |grad E|^2), rho = h."""
    return _field(f, phi, theta, h, lr1, _linear, True, True)
