"""Rotational game given by its vector fields: f = -eps phi + theta, g = -phi - eps theta (eps = 0.09).

docs/theory.md §5 item 8 (Rosca et al. 2021 §5): a non-gradient linear dynamic spiralling into the origin.
With alpha = lambda = 1 and h = 0.2, simultaneous GD diverges (spectral radius about 1.0022) while
alternating GD converges (about 0.982), as the modified flows' Jacobian traces predict.
"""

from harness import Game

EPSILON = 0.09

game = Game.from_fields(
    "rotational",
    lambda phi, theta: -EPSILON * phi + theta,
    lambda phi, theta: -phi - EPSILON * theta,
    phi0=[1.0],
    theta0=[0.5],
    equilibrium=[0.0, 0.0],
    source=__doc__,
)
