"""Implicit regularisation of heavy-ball momentum.

Citation: A. Ghosh, H. Lyu, X. Zhang, R. Wang, "Implicit regularization in Heavy-ball momentum accelerated
stochastic gradient descent", ICLR 2023, arXiv 2302.00849.
Claim (recalled as their Theorem 3.1, full-batch case; not read): heavy ball
x' = x - h grad E(x) + beta (x - x_prev) follows
    x-dot = -(1/(1 - beta)) grad [E + h (1 + beta) / (4 (1 - beta)^2) |grad E|^2]
to O(h^3) per step, once the iterates have settled (the previous iterate on the flow) (recalled).
Notation: their eta is h, their beta the harness's ``beta``; for V = -alpha grad E the right-hand side is
V/(1 - beta) - h (1 + beta) / (2 (1 - beta)^3) V'V.
Claimed accuracy: the abstract (printed, read in the ICLR 2023 text, OpenReview ZzdBhtEH9yB, as archived at
cl.cam.ac.uk, and at emergentmind.com/papers/2302.00849):
"the discrete H.B momentum update (GD+M) follows a continuous trajectory induced by a modified loss" and "this
implicit regularizer for (GD+M) is stronger than that of (GD) by factor of (1+beta)/(1-beta)"; the order of
the approximation (recalled: O(h^2) over a fixed time) was not read.
Provenance: recalled (the formula above, from the project's notes; the theorem was not read here; the
abstract's factor (1 + beta)/(1 - beta) is printed and consistent with it: the bracket's
h (1 + beta)/(4 (1 - beta)^2) |grad E|^2 is (1 + beta)/(1 - beta) times gradient descent's (h'/4) |grad E|^2 at
the effective step h' = h/(1 - beta) (derived; which normalisation the paper compares at was not read)).
Regime: the previous iterate on the flow; from the cold start x_prev = x (zero velocity, the frameworks'
start) the first step is off at O(h), which stays in the trajectory: global error O(h) at a fixed horizon
(slope 1, against 2 on the flow).
Rule: heavy_ball (Polyak's form, scheme ``heavy_ball``) with momentum ``beta``, previous iterate on the flow.
"""

import jax

import harness


@harness.flow(order=1, name="heavy ball (Ghosh et al. 2023)")
def heavy_ball(V, z, h, *, beta):
    """V/(1 - beta) - h (1 + beta) / (2 (1 - beta)^3) V'V."""
    v = V(z)
    return v / (1 - beta) - h * (1 + beta) / (2 * (1 - beta) ** 3) * jax.jvp(V, (z,), (v,))[1]
