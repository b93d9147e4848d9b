"""Single-objective finite sum E(x) = (1/m) sum_k C_k(x), m = 3 smooth non-quadratic components in R^2.

For stochastic rules that visit one component per step (random reshuffling, ``random_reshuffling``): its
``components`` are the C_k. Each C_k(x) = (1/2)(a_k . x - b_k)^2 + (c_k/4) |x|^4 + (1/2) e_k |x - x_k|^2
pulls towards its own point, so the components' gradients differ and the order of the steps matters.
Smith, Dherin, Barrett & De (ICLR 2021): one epoch of steps eps, averaged over the orderings, follows
x-dot = -grad (E + (eps/(4m)) sum_k |grad C_k|^2) to O(eps^3) (literature/smith_2021.py).
"""

import numpy as np

from harness import single_objective

A = np.array([[1.0, 0.3], [-0.4, 1.2], [0.8, -0.9]])
B = np.array([0.5, -0.2, 0.1])
C = np.array([0.05, 0.1, 0.02])
E = np.array([0.6, 0.3, 0.9])
POINTS = np.array([[1.0, 0.0], [-0.5, 0.8], [0.2, -1.0]])


def _component(k):
    def loss(x):
        return (0.5 * (A[k] @ x - B[k]) ** 2 + 0.25 * C[k] * (x @ x) ** 2
                + 0.5 * E[k] * (x - POINTS[k]) @ (x - POINTS[k]))
    return loss


COMPONENTS = tuple(_component(k) for k in range(3))

game = single_objective(
    "finite_sum",
    lambda x: sum(c(x) for c in COMPONENTS) / len(COMPONENTS),
    x0=[0.7, -0.4],
    components=COMPONENTS,
    source=__doc__,
)
