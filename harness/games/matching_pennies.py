"""Matching pennies with mixed strategies parametrised by logits (nonlinear, zero-sum).

Player 1 plays heads with probability x = sigmoid(phi), player 2 with y = sigmoid(theta); player 1 pays
E = (2x - 1)(2y - 1) (she wins when the coins differ). The equilibrium is phi = theta = 0; in logits
the fields are nonlinear, a classic example of cycling learning dynamics (e.g. Balduzzi et al. 2018).
"""

import jax

from harness import Game


def payoff(phi, theta):
    return (2 * jax.nn.sigmoid(phi[0]) - 1) * (2 * jax.nn.sigmoid(theta[0]) - 1)


game = Game(
    "matching_pennies",
    payoff,
    lambda phi, theta: -payoff(phi, theta),
    phi0=[1.0],
    theta0=[-0.5],
    equilibrium=[0.0, 0.0],
    source=__doc__,
)
