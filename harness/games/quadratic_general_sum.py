"""General-sum quadratic game (not zero-sum): linear fields with different self and interaction terms.

L1 = 1/2 phi^T P phi + phi^T B theta, L2 = 1/2 theta^T Q theta + theta^T C phi, with P, Q symmetric
positive definite and B != -C^T, so neither player's loss is the negative of the other's. Quadratic games
are the setting in which Rosca et al. 2021 derive their stability results; seeded (seed 11).
"""

import numpy as np

from harness import Game

_rng = np.random.default_rng(11)
_p, _q = _rng.standard_normal((2, 2)), _rng.standard_normal((2, 2))
P = np.asarray(_p @ _p.T + 0.5 * np.eye(2))
Q = np.asarray(_q @ _q.T + 0.5 * np.eye(2))
B = np.asarray(_rng.standard_normal((2, 2)))
C = np.asarray(_rng.standard_normal((2, 2)))

game = Game(
    "quadratic_general_sum",
    lambda phi, theta: 0.5 * phi @ P @ phi + phi @ B @ theta,
    lambda phi, theta: 0.5 * theta @ Q @ theta + theta @ C @ phi,
    phi0=[1.0, -0.5],
    theta0=[0.3, 0.8],
    source=__doc__,
)
