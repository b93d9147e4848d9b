"""The first-order modified flows of the authors' released code for "Discretization Drift in Two-Player
Games" (Rosca, Wu, Dherin, Barrett, ICML 2021).

Source: google-deepmind/discretisation_drift, dd_two_player_games/drift_utils.py, function get_dd_coeffs
(read at commit e5c5623).
Claim: player i's flow is r_i (F_i - self_norm_i F_i' F_i - other_dot_prod_i F_i' F_j) with, for learning
rates lr_i = r_i h (r = alpha, lambda) and num_updates m, k:
    simultaneous:  self_norm = lr/2,  other_dot_prod = lr/2  (each player's own lr)
    alternating, first player:   self_norm = lr_1 / (2 m),  other_dot_prod = lr_1 / 2
                 second player:  self_norm = lr_2 / (2 k),  other_dot_prod = -(lr_2/2)(2 lr_1/lr_2 - 1)
Notation: F_i' F_j is the derivative of player i's field along player j's field (f_theta g, g_phi f).
Claimed accuracy: the released code computes "the implicit regularization coefficients" of the O(h^3) flows.
Provenance: code (transcribed from get_dd_coeffs above).
Finding: the interaction coefficient carries the player's own rate, where one step has the other's
(rosca_2021.py): right when alpha = lambda, off at O(h^2) (slope 2) otherwise.
Rules: simultaneous and alternating (phi first).
"""

import jax

import harness


@harness.flow(order=1, name="simultaneous (official code)")
def simultaneous(f, g, phi, theta, h, lr1, lr2):
    """self_norm = other_dot_prod = lr_i / 2 for both players."""
    f0, df = jax.linearize(f, phi, theta)
    g0, dg = jax.linearize(g, phi, theta)
    return (lr1 * f0 - lr1 * (lr1 * h / 2) * df(f0, g0),
            lr2 * g0 - lr2 * (lr2 * h / 2) * dg(f0, g0))


@harness.flow(order=1, name="alternating (official code)")
def alternating(f, g, phi, theta, h, lr1, lr2, *, m, k):
    """phi first: the coefficients of get_dd_coeffs for the first and the second player."""
    f0, df = jax.linearize(f, phi, theta)
    g0, dg = jax.linearize(g, phi, theta)
    lr_1, lr_2 = lr1 * h, lr2 * h
    other_2 = -(lr_2 / 2) * (2 * lr1 / lr2 - 1)  # lr_ratio = lr_1 / lr_2 = lr1 / lr2 (no 0/0 at h = 0)
    return (lr1 * f0 - lr1 * df(lr_1 / (2 * m) * f0, lr_1 / 2 * g0),
            lr2 * g0 - lr2 * dg(other_2 * f0, lr_2 / (2 * k) * g0))
