"""n-dimensional bilinear zero-sum game E = phi^T A theta + b^T phi + c^T theta (phi in R^3, theta in R^2).

The standard test bed for min-max optimisers (e.g. Gidel et al. 2019, Mokhtari et al. 2020): linear
fields, so every flow is solved exactly by a matrix exponential. A, b and c are drawn from a seeded
normal distribution (seed 7), so the game is the same on every machine.
"""

import numpy as np

from harness import Game

_rng = np.random.default_rng(7)
A = np.asarray(_rng.standard_normal((3, 2)))
B = np.asarray(_rng.standard_normal(3))
C = np.asarray(_rng.standard_normal(2))


def energy(phi, theta):
    return phi @ A @ theta + B @ phi + C @ theta


game = Game(
    "bilinear",
    energy,
    lambda phi, theta: -energy(phi, theta),
    phi0=[0.5, -0.3, 0.8],
    theta0=[0.4, -0.6],
    source=__doc__,
)
