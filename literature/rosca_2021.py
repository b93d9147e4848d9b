"""Discretization drift in two-player games: the first-order modified flows of simultaneous and alternating
gradient descent.

Citation: M. Rosca, Y. Wu, B. Dherin, D. G. T. Barrett, "Discretization Drift in Two-Player Games", ICML
2021, arXiv 2105.13922.
Claims (Theorems 3.1 and 3.2): simultaneous and alternating updates with learning rates alpha h and lambda h
(alternating: m and k substeps, phi first) follow, to O(h^3) per step,
    simultaneous  phi-dot = alpha f - (alpha h/2)(alpha f_phi f + lambda f_theta g)
                  theta-dot = lambda g - (lambda h/2)(alpha g_phi f + lambda g_theta g)
    alternating   phi-dot = alpha f - (alpha h/2)((alpha/m) f_phi f + lambda f_theta g)
                  theta-dot = lambda g + (alpha lambda h/2) g_phi f - (lambda^2 h/(2k)) g_theta g
Notation: learning rates alpha h for phi and lambda h for theta (the paper's own symbols were not read); f, g
the players' fields.
Claimed accuracy: not read; the flows below are first-order modified flows, local error O(h^3) per step, which
the checks measure.
Provenance: derived here (Taylor matching of one step, docs/theory.md §2, the "joint convention"); the
printed theorems were not read here, and the authors' code uses another coefficient (rosca_2021_code.py).
Finding: the derivation puts the other player's rate on the interaction terms (f_theta g carries lambda, g_phi f
alpha) and is confirmed for any alpha, lambda; the authors' code (get_dd_coeffs) puts the player's own rate
there, right only when alpha = lambda (slope 2 otherwise), and its released configuration trains with unequal
rates; which of the two the printed theorems carry was not read.
Rules: simultaneous and alternating (phi first), any alpha, lambda, m, k.
"""

import jax

import harness


@harness.flow(order=1, name="simultaneous (Rosca et al. 2021)")
def simultaneous(f, g, phi, theta, h, lr1, lr2):
    """Each player's drift is one directional derivative of its field along (alpha f, lambda g)."""
    f0, df = jax.linearize(f, phi, theta)
    g0, dg = jax.linearize(g, phi, theta)
    return (lr1 * f0 - (lr1 * h / 2) * df(lr1 * f0, lr2 * g0),
            lr2 * g0 - (lr2 * h / 2) * dg(lr1 * f0, lr2 * g0))


@harness.flow(order=1, name="alternating (Rosca et al. 2021)")
def alternating(f, g, phi, theta, h, lr1, lr2, *, m, k):
    """phi first: theta sees phi's new state, which flips the sign of its interaction term."""
    f0, df = jax.linearize(f, phi, theta)
    g0, dg = jax.linearize(g, phi, theta)
    return (lr1 * f0 - (lr1 * h / 2) * df(lr1 / m * f0, lr2 * g0),
            lr2 * g0 - (lr2 * h / 2) * dg(-lr1 * f0, lr2 / k * g0))
