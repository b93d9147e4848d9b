"""Smooth nonconvex-nonconcave zero-sum game with two parameters per player.

E(phi, theta) = phi^T A theta + 1/2 sum(sin phi) - 1/2 sum(cos theta) + 1/4 phi_0^2 theta_1:
player 1 minimises E (sin makes it nonconvex in phi), player 2 maximises it (-cos is convex near 0, so E
is not concave in theta), and the cubic term couples the players nonlinearly. A small smooth instance of
the nonconvex-nonconcave min-max problems that GAN training poses (e.g. Daskalakis & Panageas 2018).
"""

import jax.numpy as jnp
import numpy as np

from harness import Game

A = np.array([[1.0, 0.5], [-0.3, 0.8]])


def energy(phi, theta):
    return (
        phi @ A @ theta
        + 0.5 * jnp.sum(jnp.sin(phi))
        - 0.5 * jnp.sum(jnp.cos(theta))
        + 0.25 * phi[0] ** 2 * theta[1]
    )


game = Game(
    "nonconvex_nonconcave",
    energy,
    lambda phi, theta: -energy(phi, theta),
    phi0=[0.6, -0.4],
    theta0=[0.3, 0.7],
    source=__doc__,
)
