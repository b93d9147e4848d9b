"""Bilinear Dirac-GAN: E(phi, theta) = c phi theta, player 1 minimises E, player 2 maximises it.

Rosca et al. 2021 (Discretization Drift in Two-Player Games), §5 and docs/theory.md §5 item 7: the
linearisation of the Dirac-GAN at its equilibrium. Simultaneous GD diverges for every h (spectral radius
sqrt(1 + alpha lambda h^2 c^2)); alternating GD conserves Q = phi^2/alpha + theta^2/lambda - h c phi theta.
"""

from harness import Game

C = 1.0


def conserved(phi, theta, alpha, lam, h):
    """Q = phi^2/alpha + theta^2/lambda - h c phi theta, conserved by alternating GD (phi first)."""
    return phi[0] ** 2 / alpha + theta[0] ** 2 / lam - h * C * phi[0] * theta[0]


game = Game(
    "dirac_gan_bilinear",
    lambda phi, theta: C * phi[0] * theta[0],
    lambda phi, theta: -C * phi[0] * theta[0],
    phi0=[1.0],
    theta0=[0.5],
    equilibrium=[0.0, 0.0],
    invariants={"Q": conserved},
    source=__doc__,
)
