"""The implicit bias of Adam and RMSProp: their first-order modified flows.

Citation: M. D. Cattaneo, J. M. Klusowski, B. Shigida, "On the Implicit Bias of Adam", ICML 2024,
arXiv 2309.00079; the authors' code borshigida/implicit-bias-of-adam, optimizers.py, class MyAdam (read at
commit e25ea9a).
Claim (abstract, printed; read at arxiv.org/html/2309.00079v4): "the corresponding ODE terms either penalize
the (perturbed) one-norm of the loss gradients or, conversely, impede its reduction (the latter case being
typical)". The abstract states neither the order of the approximation nor a condition on the hyperparameters;
"second order in h" and the role of beta_2 > beta_1 come from third-party summaries (the public reviews, as
the audit of issue 30 found, and a TL;DR at sciencestack.ai), not from a page of the paper read here.
The setting (printed: Definition 1.1, as excerpted from the ICML text at ri.k117.org): a numerical stability
hyperparameter eps > 0, a squared gradient momentum rho, a gradient momentum beta, nu(0) = 0 and m(0) = 0.
The authors' code (MyAdam, read): zero buffers, the step counter from 1, bias correction on and eps inside
the root by default (use_bias_correction=True, epsilon_inside_sqrt=True); eps outside the root,
sqrt(v)/sqrt(1 - beta_2^n) + eps (the frameworks' default, optax's and PyTorch's), is an option of its
training script (adam_eps_outside).
Notation: their rho is beta_2, their beta is beta_1, their h the step h; u = -grad E per coordinate, rate r.
Claimed accuracy: not read (the theorem was not read); the flows below are first-order modified flows, local
error O(h^3) per step, which the checks measure.
Provenance: derived here (docs/theory.md §7); the theorem's coefficients were not read.
Derivation: the buffers are averages of the fields seen along the flow, u - j h u'G at j steps back, with mean
lag lam_i: lam_i = beta_i/(1 - beta_i) on the flow (no bias left), and at the n-th step from zero buffers with
bias correction lam_i(n) = beta_i (1 - n beta_i^(n-1) + (n - 1) beta_i^n) / ((1 - beta_i)(1 - beta_i^n)) (0 at
n = 1). Then m_hat = u - h lam_1 u'G and v_hat = u^2 - 2 h lam_2 u (u'G), and with G = r u / N:
    eps inside,  N = sqrt(u^2 + eps):  x-dot = G + h (r [lam_2 u^2 (u'G) / N^3 - lam_1 (u'G) / N] - G'G / 2)
    eps outside, N = |u| + eps:        x-dot = G + h (r [lam_2 |u| (u'G) / N^2 - lam_1 (u'G) / N] - G'G / 2)
(RMSProp: beta_1 = 0). As eps -> 0 both are the sign flow of E - h r (lam_2 - lam_1) |grad E|_1 per
coordinate: the 1-norm is anti-penalised when beta_2 > beta_1 (derived; the abstract's "the latter case being
typical" is consistent with it for the usual beta_2 > beta_1).
Regime: on the flow; or from the authors' start (zero buffers, bias correction) at step n (``regime = "cold"``,
``step = n``). Without bias correction, zero buffers weigh 1 - beta^n of their steady value, so the step is
off at O(h) from these flows.
Rules: optimizer ``adam`` or ``rmsprop``, eps inside or outside the root, single objectives (the formula is per
player: u is the raw field of a single-objective problem).
"""

import jax
import jax.numpy as jnp

import harness


def lag(beta, n):
    """The mean lag of a (bias-corrected) exponential average of the last n fields, in steps: beta/(1 - beta)
    on the flow (n = inf)."""
    if beta == 0:
        return 0.0
    if n == float("inf"):
        return beta / (1 - beta)
    return beta * (1 - n * beta ** (n - 1) + (n - 1) * beta ** n) / ((1 - beta) * (1 - beta ** n))


@harness.flow(order=1, name="adam (Cattaneo et al. 2024, derived)")
def adam(f, g, phi, theta, h, lr1, lr2, *, optimizer, step):
    """The formula above for player 1 (a single-objective problem has no theta), with the lags of the flow or of
    the n-th bias-corrected step."""
    n = step if optimizer.bias_correction else float("inf")
    eps = optimizer.eps
    lag1 = lag(optimizer.beta1, n) if optimizer.name == "adam" else 0.0
    lag2 = lag(optimizer.beta2, n)
    if optimizer.eps_inside:
        norm = lambda x: jnp.sqrt(f(x, theta) ** 2 + eps)  # noqa: E731
    else:
        norm = lambda x: jnp.abs(f(x, theta)) + eps  # noqa: E731
    lead = lambda x: lr1 * f(x, theta) / norm(x)  # noqa: E731
    u, n_u, gx = f(phi, theta), norm(phi), lead(phi)
    ug = jax.jvp(lambda x: f(x, theta), (phi,), (gx,))[1]
    second = u ** 2 / n_u ** 3 if optimizer.eps_inside else jnp.abs(u) / n_u ** 2
    correction = lr1 * (lag2 * second * ug - lag1 * ug / n_u) - 0.5 * jax.jvp(lead, (phi,), (gx,))[1]
    return gx + h * correction, jnp.zeros_like(theta)
