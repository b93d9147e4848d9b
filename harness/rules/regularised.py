"""Explicitly regularised simultaneous updates (Rosca et al. 2021 §6): with cancellation kappa = ``cancel``
(default 1) and self-term strength mu = ``strengthen`` (default 0),

    phi'   = phi   + alpha h  (f + (rho_1 h/2) f_theta g - (mu alpha h/2) f_phi f)
    theta' = theta + lambda h (g + (rho_2 h/2) g_phi f   - (mu lambda h/2) g_theta g)

with (rho_1, rho_2) = kappa (lambda, alpha) (``convention="joint"``: the interaction terms of the joint-convention
drift cancel exactly when kappa = 1) or kappa (alpha, lambda) (``convention="official"``, the official code's
own-rate coefficient). For a gradient game f_phi f = (1/2) grad_phi |grad_phi L1|^2, so the mu term is the
explicit regulariser L1 + mu (alpha h/4) |grad_phi L1|^2 (the self terms strengthened)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.model.game import Game
from harness.rules.base import Option, Rule

CANCEL = Option("cancel", 1.0, float, "cancellation kappa of the interaction terms (regularised)")
STRENGTHEN = Option("strengthen", 0.0, float, "strength mu of the self terms (regularised)")
CONVENTION = Option("convention", "joint", str, "whose rate scales the interaction regulariser (regularised)",
                    choices=("joint", "official"))


@dataclass(frozen=True)
class Regularised(Rule):
    name = "regularised"
    options = (CANCEL, STRENGTHEN, CONVENTION)

    def step(self, game: Game, structure: tuple) -> Callable:
        a, b = game.dims

        def regularised(z, h, params):
            raw, jacobian_times = jax.linearize(game.field, z)  # the field once, its Jacobian as a linear map
            f, g = raw[:a], raw[a:]
            tangents = jnp.stack([jnp.concatenate([f, jnp.zeros(b)]), jnp.concatenate([jnp.zeros(a), g])])
            along_f, along_g = jax.vmap(jacobian_times)(tangents)  # (f_phi f, g_phi f), (f_theta g, g_theta g)
            alpha, lam, rho1, rho2, mu = params.alpha, params.lam, params.rho_1, params.rho_2, params.strengthen
            phi_step = f + 0.5 * h * (rho1 * along_g[:a] - mu * alpha * along_f[:a])
            theta_step = g + 0.5 * h * (rho2 * along_f[a:] - mu * lam * along_g[a:])
            return z + h * jnp.concatenate([alpha * phi_step, lam * theta_step])

        return regularised

    def interaction_rates(self, scheme: Any) -> tuple[float, float]:
        """(rho_1, rho_2): kappa (lambda, alpha) in the joint convention, kappa (alpha, lambda) in the official."""
        rates = (scheme.lr2, scheme.lr1) if scheme.convention == "joint" else (scheme.lr1, scheme.lr2)
        return scheme.cancel * rates[0], scheme.cancel * rates[1]

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        a, l = scheme.lr1, scheme.lr2
        r1, r2 = self.interaction_rates(scheme)
        self_ = 1.0 + scheme.strengthen
        other = (a, l) if flow == "official" else (l, a)
        return np.array([[self_ * a, other[0] - r1], [other[1] - r2, self_ * l]])

    def label(self, scheme: Any) -> str:
        if (scheme.cancel, scheme.strengthen, scheme.convention) == (1.0, 0.0, "joint"):
            return ""
        return f", cancel={scheme.cancel:g}, strengthen={scheme.strengthen:g}, convention={scheme.convention}"


RULE = Regularised()
