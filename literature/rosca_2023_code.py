"""The principal flow of gradient descent, as the authors' released code computes it.

Source: M. Rosca, Y. Wu, C. Qin, B. Dherin, "On a continuous time model of gradient descent dynamics and
instability in deep learning", TMLR 2023, arXiv 2302.01952 (OpenReview EYrRzKPinA names the code:
github.com/deepmind/discretisation_drift); google-deepmind/discretisation_drift,
principal_flow_instability_single_objective/PF_exact_GD_convergence.ipynb, function
principal_series_modified_vector_field (read at commit 8888e0e).
Claim: the abstract (printed, read at openreview.net/forum?id=EYrRzKPinA): "we propose the principal flow
(PF), a continuous time flow that approximates gradient descent dynamics", with "its dependence on the
eigendecomposition of the Hessian". The code: with (lambda_i, u_i) the eigenpairs of the Hessian H of E and
learning rate h, r_i = log(1 - h lambda_i) / (h lambda_i), its field is -sum_i r_i (grad E . u_i) u_i, which
gradient descent follows as x-dot = -field, that is
    x-dot = sum_i [log(1 - h lambda_i) / (h lambda_i)] (grad E . u_i) u_i;
with ``include_higher_order=True`` the code adds h^2/12 grad_x (g . H(x) g) at g = grad E held fixed, the
third derivative D^3 E[g, g], so that x-dot gains -(h^2/12) D^3 E[g, g] (the h^2 term of the code's
``third_order_modified_vector_field`` that the eigenvalue series lacks).
Notation: their gd_learning_rate is h (alpha = 1 scales grad E: V = -alpha grad E, H the Hessian of alpha E);
lambda_i, u_i from jnp.linalg.eigh of the symmetric Hessian, an orthonormal real eigenbasis (the code calls
jnp.linalg.eig on the Hessian taken with holomorphic derivatives); over such a basis the sum is the matrix
function (log(I - h H) / (h H)) applied to grad E, which does not depend on the basis chosen (derived).
Claimed accuracy: the notebook's own text (printed there) says it "implements the PF, as well as an example
where the PF follows gradient descent exactly" (a quadratic loss); the paper's statement of the PF's
accuracy on other losses was not read. Expanding log(1 - x)/x = -1 - x/2 - x^2/3 - ... (derived here), the
PF is -grad E - (h/2) H grad E - (h^2/3) H^2 grad E - ...: gradient descent's modified field through O(h)
(implicit gradient regularisation), short of its h^2 term -(h^2/12) D^3 E[grad E, grad E]; with the code's
higher-order term it agrees through O(h^2). The checks measure these orders: the PF as a first-order flow
(slope 3), the PF with the code's term as a second-order flow (slope 4), on Rosenbrock.
Provenance: code (transcribed from principal_series_modified_vector_field above); the paper's equations were
not read.
Rules: gd (alpha = 1) on single objectives, where the measured steps keep |h lambda_i| small (on Rosenbrock the
largest step times the largest |lambda_i| at the default point is 0.1), so that log(1 - h lambda_i) is real;
the code's complex logarithm also covers h lambda_i > 1, the unstable regime, which is not measured here.
"""

import jax
import jax.numpy as jnp
import numpy as np

import harness

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)


def _log_ratio(x):
    """log(1 - x)/x = -int_0^1 ds / (1 - s x), by 24-point Gauss-Legendre quadrature: smooth at x = 0 (where the
    quotient is 0/0), so that the error series can expand it in h; within 4e-14 of log1p(-x)/x for -3 <= x <= 0.9."""
    s = (_NODES + 1) / 2
    return -jnp.sum(_WEIGHTS[:, None] / 2 / (1 - s[:, None] * x[None, :]), axis=0)


def _principal(V, z, h):
    hessian = -jax.jacfwd(V)(z)  # the Hessian of alpha E
    eigenvalues, vectors = jnp.linalg.eigh((hessian + hessian.T) / 2)
    gradient = -V(z)
    return vectors @ (_log_ratio(h * eigenvalues) * (vectors.T @ gradient))


@harness.flow(order=1, name="principal flow (Rosca et al. 2023, code)")
def principal_flow(V, z, h):
    """sum_i [log(1 - h lambda_i) / (h lambda_i)] (grad E . u_i) u_i."""
    return _principal(V, z, h)


@harness.flow(order=2, name="principal flow with the code's h^2 term (Rosca et al. 2023, code)")
def principal_flow_higher_order(V, z, h):
    """The principal flow - (h^2/12) D^3 E[g, g], g = grad E (include_higher_order=True)."""
    gradient = -V(z)
    third = jax.grad(lambda x: gradient @ jax.jvp(lambda y: -V(y), (x,), (gradient,))[1])(z)
    return _principal(V, z, h) - h ** 2 / 12 * third
