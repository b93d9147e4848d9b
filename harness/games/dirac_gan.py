"""Nonlinear Dirac-GAN with the non-saturating loss.

Rosca et al. 2021 §5 (after Mescheder et al. 2018): data is a point mass at 0, the generator a point
mass at theta, the discriminator D(x) = phi x with output sigmoid(D(x)). The discriminator (player 1)
minimises -log sigmoid(D(0)) - log(1 - sigmoid(D(theta))) = log 2 + softplus(phi theta); the generator
(player 2) minimises the non-saturating loss -log sigmoid(D(theta)) = softplus(-phi theta).
"""

import jax

from harness import Game

game = Game(
    "dirac_gan",
    lambda phi, theta: jax.nn.softplus(phi[0] * theta[0]),
    lambda phi, theta: jax.nn.softplus(-phi[0] * theta[0]),
    phi0=[0.5],
    theta0=[1.0],
    equilibrium=[0.0, 0.0],
    source=__doc__,
)
