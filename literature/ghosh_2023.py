"""Implicit regularisation of heavy-ball momentum.

Citation: A. Ghosh, H. Lyu, X. Zhang, R. Wang, "Implicit regularization in Heavy-ball momentum accelerated
stochastic gradient descent", ICLR 2023, arXiv 2302.00849.
Claim (their Theorem 3.1, full-batch case): heavy ball x' = x - h grad E(x) + beta (x - x_prev) follows
    x-dot = -(1/(1 - beta)) grad [E + h (1 + beta) / (4 (1 - beta)^2) |grad E|^2]
to O(h^3) per step, once the iterates have settled (the previous iterate on the flow).
Notation: their eta is h, their beta the harness's ``beta``; for V = -alpha grad E the right-hand side is
V/(1 - beta) - h (1 + beta) / (2 (1 - beta)^3) V'V.
Claimed accuracy: the abstract (printed) says the implicit regulariser is (1 + beta)/(1 - beta) times that of
gradient descent; the theorem matches the discrete iterates to O(h^2) over a fixed time.
Provenance: recalled (the formula above, from the project's notes; the theorem was not read here; the
abstract's factor (1 + beta)/(1 - beta) is printed and agrees with it).
Rule: heavy_ball (Polyak's form, scheme ``heavy_ball``) with momentum ``beta``, previous iterate on the flow.
"""

import jax

import harness


@harness.flow(order=1, name="heavy ball (Ghosh et al. 2023)")
def heavy_ball(V, z, h, *, beta):
    """V/(1 - beta) - h (1 + beta) / (2 (1 - beta)^3) V'V."""
    v = V(z)
    return v / (1 - beta) - h * (1 + beta) / (2 * (1 - beta) ** 3) * jax.jvp(V, (z,), (v,))[1]
