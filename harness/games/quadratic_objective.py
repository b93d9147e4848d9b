"""Single-objective quadratic E(x) = 1/2 x^T H x + b^T x with H symmetric positive definite (x in R^3).

Barrett & Dherin 2021 (Implicit Gradient Regularization): GD on E follows
x' = -grad(E + (h/4)|grad E|^2) to O(h^3); on a quadratic every flow is linear and solved exactly. Seeded
(seed 3).
"""

import numpy as np

from harness import single_objective

_rng = np.random.default_rng(3)
_m = _rng.standard_normal((3, 3))
H = np.asarray(_m @ _m.T + np.eye(3))
B = np.asarray(_rng.standard_normal(3))

game = single_objective(
    "quadratic_objective",
    lambda x: 0.5 * x @ H @ x + B @ x,
    x0=[1.0, -0.5, 0.25],
    source=__doc__,
)
