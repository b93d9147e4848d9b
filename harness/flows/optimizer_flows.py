"""First-order flows of per-player optimizers (harness.rules.optimizers), derived on their slow manifold.

Let z' = D + h H be the flow and u_i player i's raw field. Along the flow the state seen j steps back is
z - j h D + O(h^2), and player i sees its own field displaced by h sigma_i (its look-ahead beta_j D_j for
nesterov players j, the new parameters D_j of a player j who moved before it):

    u_i(seen) = u_i + h delta_i,   delta_i = u_i' sigma_i.

A buffer (decay d, gain c, power p) that has summed the last n fields (n = inf on the flow) is then

    b = W q(u_i + h (delta_i - lam u_i' D)) + O(h^2),   q(u) = u^p,   W = c (1 - d^n) / (1 - d),
    lam = sum_{j<n} j d^j / sum_{j<n} d^j   (the buffer's mean lag; d / (1 - d) when n = inf),

so a step is x_i' - x_i = beta_i (x_i - x_prev,i) + h Phi_i(h) + O(h^3), with Phi_i(e) = r_i times the
optimizer's direction computed from u_i + e delta_i and these buffers (e = h), and beta_i the look-ahead
momentum of a nesterov player (0 for the others), whose x_i - x_prev,i = h D_i + h^2 (H_i - (D'D)_i / 2) on
the flow. Matching the flow's time-h map z + h D + h^2 (H + D'D / 2) order by order:

    D_i = Phi_i(0) / (1 - beta_i),      H_i = (Phi_i'(0) - (1 + beta_i) (D'D)_i / 2) / (1 - beta_i)

with Phi_i'(0) one forward derivative in e. For one objective with V = r u this gives heavy ball's
V/(1-b) - h (1+b)/(2(1-b)^3) V'V, Nesterov's coefficient (1 - b + 2 b^2) in place of (1 + b) (both forms),
EMA's V - h (1+b)/(2(1-b)) V'V, and for adam with eps inside the root (N(v) = sqrt(v + eps), G = r u / N(u^2))

    H = r [lam_2 u^2 (u' G) / N^3 - lam_1 (u' G) / N] - G'G / 2     (per coordinate; docs/theory.md §7).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from harness.model.game import Game, GameError
from harness.rules.optimizers import ADAPTIVE, Optimizer, field_of, moves_before, players


def mean_lag(decay: float, n: float = math.inf) -> float:
    """sum_{j<n} j d^j / sum_{j<n} d^j: how many steps back a buffer of decay d looks after n steps from zero
    (d / (1 - d) on the flow, n = inf)."""
    if math.isinf(n):
        return decay / (1.0 - decay)
    weights = decay ** np.arange(int(n))
    return float(np.arange(int(n)) @ weights / weights.sum())


def lead_scale(optimizer: Optimizer, k: float) -> float | None:
    """s(k): the leading displacement of step k from a cold start (k = inf: on the flow) over r h u, None when
    it is not a multiple of u (adam and rmsprop without bias correction, whose coordinates scale differently;
    nesterov, whose first-order term depends on the discrete history of x_prev)."""
    beta = optimizer.beta
    weight = 1.0 / (1.0 - beta) if math.isinf(k) else (1.0 - beta ** k) / (1.0 - beta)
    if optimizer.name == "gd" or (optimizer.name in ADAPTIVE and (optimizer.bias_correction or math.isinf(k))):
        return 1.0
    if optimizer.name == "heavy_ball" or (optimizer.name == "nesterov" and math.isinf(k)):
        return weight
    if optimizer.name == "nesterov_buffer":
        return 1.0 + beta * weight
    if optimizer.name == "ema":
        return 1.0 if math.isinf(k) else 1.0 - beta ** k
    return None


def buffer_coefficients(optimizers: tuple[Optimizer, Optimizer], order: str, index: int,
                        n: float = math.inf) -> np.ndarray:
    """Rows (W, kappa, lam_1, lam_2) for each buffer of player ``index`` at step n (n = inf: on the flow): the
    buffer's weight W, its bias correction kappa = 1 - d^n (1 without bias correction) and its mean lag along
    each player's displacement, lam_p = sum_j d^j L_pj / sum_j d^j with L_pj = sum of that player's leading
    displacements s_p(k) / s_p(n) over the steps between the field seen j steps back and the one seen now
    (j of them; on the flow lam_p = d / (1 - d)). GameError when a player's displacement is not a multiple
    of its field at some step (``lead_scale``)."""
    optimizer = optimizers[index]
    rows = []
    for b in optimizer.buffers:
        d = b.decay
        if math.isinf(n):
            rows.append((b.gain / (1.0 - d), 1.0, mean_lag(d), mean_lag(d)))
            continue
        steps = int(n)
        weights = d ** np.arange(steps)
        kappa = 1.0 - d ** n if optimizer.bias_correction else 1.0
        lags = []
        for p, other in enumerate(optimizers):
            scales = [lead_scale(other, k) for k in range(1, steps + 1)]
            if any(scale is None for scale in scales):
                raise GameError(f"no first-order flow at step {steps} from a cold start for {other.label}: its "
                                "leading displacement changes with the step, coordinate by coordinate (turn bias "
                                "correction on, or check the on-flow regime)")
            ratio = np.array(scales) / scales[-1]  # ratio[k - 1] = s_p(k) / s_p(n)
            before = moves_before(order, p, index)
            spans = [ratio[steps - j:steps].sum() if before else ratio[steps - 1 - j:steps - 1].sum()
                     for j in range(steps)]
            lags.append(float(weights @ np.array(spans) / weights.sum()))
        rows.append((b.gain * weights.sum(), kappa, *lags))
    return np.array(rows, dtype=np.float64).reshape(len(rows), 4)


def _direction(game: Game, optimizers: tuple[Optimizer, Optimizer]) -> tuple[Callable, Callable]:
    """``phi(i, u, shifted, coefficients, rate)``: r_i d(u_i seen, buffers) for a seen field ``u`` and the buffers'
    arguments ``shifted``; and the leading field ``lead(z, params, coefficients)`` = D = (Phi_i(0) / (1 - beta_i))_i."""
    members = players(game, optimizers)
    looks = [o.look_ahead for _, o in members]

    def phi(i, u, shifted, coefficients, rate):
        _, o = members[i]
        rows = coefficients[i]
        buffers = tuple(rows[k, 0] * arg ** b.power for k, (b, arg) in enumerate(zip(o.buffers, shifted, strict=True)))
        return rate * o.direction(u, buffers, tuple(rows[k, 1] for k in range(len(o.buffers))))

    def lead(z, params, coefficients):
        u = game.field(z)
        return jnp.concatenate([phi(i, u[s], [u[s]] * len(o.buffers), coefficients, params.rate(i)) / (1.0 - looks[i])
                                for i, (s, o) in enumerate(members)])

    return phi, lead


def optimizer_lead(game: Game, optimizers: tuple[Optimizer, Optimizer]) -> Callable:
    """The leading field ``(z, params, coefficients) -> D`` of ``optimizer_flow`` (its value at h = 0), alone: what
    the step-size scale differentiates (harness.measure.jacobian_norm), without the first-order terms' derivatives."""
    return _direction(game, optimizers)[1]


def optimizer_flow(game: Game, order: str, optimizers: tuple[Optimizer, Optimizer]) -> Callable:
    """The field ``(z, h, params, (first, coefficients)) -> z'`` of the module docstring: D + first h H, with
    ``coefficients`` one ``buffer_coefficients`` array per player (traced, as are the rates ``params.alpha``,
    ``params.lam``); a buffer's lag is taken along each player's displacement, lam_1 D_1 + lam_2 D_2."""
    members = players(game, optimizers)
    field = field_of(game, len(members))
    looks = [o.look_ahead for _, o in members]
    displaced = [any(moves_before(order, j, i) or looks[j] for j in range(len(members)))
                 for i in range(len(members))]
    phi, lead = _direction(game, optimizers)

    def flow(z, h, params, flow_coefficients):
        first, coefficients = flow_coefficients
        u = game.field(z)
        d = lead(z, params, coefficients)
        dd = jax.jvp(lambda x: lead(x, params, coefficients), (z,), (d,))[1]

        def along(i, weights):  # u_i' (w_1 D_1, w_2 D_2)
            tangent = jnp.concatenate([w * d[t] for w, (t, _) in zip(weights, members, strict=True)])
            return jax.jvp(lambda x: field(i, x), (z,), (tangent,))[1]

        corrections = []
        for i, (s, o) in enumerate(members):
            delta = along(i, [1.0 if moves_before(order, j, i) else looks[j] for j in range(len(members))]) \
                if displaced[i] else jnp.zeros_like(u[s])
            lagged = [along(i, [coefficients[i][k, 2 + p] for p in range(len(members))])
                      for k in range(len(o.buffers))]

            def stepped(e, i=i, s=s, delta=delta, lagged=lagged):
                shifted = [u[s] + e * (delta - lag) for lag in lagged]
                return phi(i, u[s] + e * delta, shifted, coefficients, params.rate(i))

            derivative = jax.jvp(stepped, (0.0,), (1.0,))[1]
            corrections.append((derivative - 0.5 * (1.0 + looks[i]) * dd[s]) / (1.0 - looks[i]))
        return d + first * h * jnp.concatenate(corrections)

    return flow
