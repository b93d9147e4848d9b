"""Reference solutions of a flow over time h, each with an estimate of its own error.

- Affine fields F(z) = A z + b (every flow of a game with an affine field): exact,
  z(h) = z0 + [expm(M)]_{:n, n} with M = [[h A, h F(z0)], [0, 0]] (augmented matrix exponential); the
  error estimate is the round-off scale eps (|z0| + (n + 1) |z(h) - z0|).
- Other fields: the 8th-order Dormand-Prince tableau (diffrax's Dopri8) with fixed steps, run with N and
  2N steps (two lanes of one loop, so the field is compiled once). The 2N solution is returned; its error
  estimate is |z_N - z_2N| (an upper estimate: the 2N solution's error is about 2^8 times smaller than
  that of z_N; the difference also holds both solutions' round-off) plus eps |z|. Fixed steps keep the
  solve batchable with vmap and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

EPS = float(np.finfo(np.float64).eps)
DEFAULT_STEPS = 4

_TABLEAU = diffrax.Dopri8.tableau
_STAGES = len(_TABLEAU.b_sol)
_A = np.zeros((_STAGES, _STAGES))
for _row, _coefficients in enumerate(_TABLEAU.a_lower, start=1):
    _A[_row, : len(_coefficients)] = _coefficients
_B = np.asarray(_TABLEAU.b_sol, dtype=np.float64)


def rk8(field: Callable, z0: jax.Array, t: jax.Array, n_steps: int) -> jax.Array:
    """z(t) for z' = field(z) by ``n_steps`` fixed Dopri8 steps.

    The stages run in a loop (the field is traced once, which keeps compilation short)."""
    dt = t / n_steps
    a, b = jnp.asarray(_A), jnp.asarray(_B)

    def one_step(_, z):
        def stage(i, k):
            return k.at[i].set(field(z + dt * (a[i] @ k)))

        k = jax.lax.fori_loop(0, _STAGES, stage, jnp.zeros((_STAGES, z.size)))
        return z + dt * (b @ k)

    return jax.lax.fori_loop(0, n_steps, one_step, z0)


def expm_flow(field: Callable, z0: jax.Array, t: jax.Array) -> jax.Array:
    """Exact z(t) for an affine field, by the augmented matrix exponential."""
    n = z0.size
    jac = jax.jacfwd(field)(z0)
    top = jnp.concatenate([t * jac, (t * field(z0))[:, None]], axis=1)
    augmented = jnp.concatenate([top, jnp.zeros((1, n + 1))], axis=0)
    return z0 + jax.scipy.linalg.expm(augmented)[:n, n]


def reference_solution(
    field: Callable, z0: jax.Array, t: jax.Array, affine: bool, n_steps: int = DEFAULT_STEPS
) -> tuple[jax.Array, jax.Array]:
    """(z(t), estimated error of z(t)) for z' = field(z), z(0) = z0 (see the module docstring)."""
    if affine:
        z_t = expm_flow(field, z0, t)
        return z_t, EPS * (jnp.linalg.norm(z0) + (z0.size + 1) * jnp.linalg.norm(z_t - z0))
    coarse, fine = _coarse_and_fine(field, z0, t, n_steps)
    return fine, jnp.linalg.norm(coarse - fine) + EPS * jnp.linalg.norm(fine)


def _coarse_and_fine(field: Callable, z0: jax.Array, t: jax.Array, n_steps: int) -> jax.Array:
    """The N-step and 2N-step Dopri8 solutions, computed as two vmapped lanes of one loop so that the field
    is traced (and compiled) once: over 2N iterations the fine lane steps t/2N each time, the coarse lane
    steps t/N on even iterations and stands still (step 0) on odd ones."""
    a, b = jnp.asarray(_A), jnp.asarray(_B)
    fine_dt = t / (2 * n_steps)

    def lane_step(z, dt):
        def stage(i, k):
            return k.at[i].set(field(z + dt * (a[i] @ k)))

        k = jax.lax.fori_loop(0, _STAGES, stage, jnp.zeros((_STAGES, z.size)))
        return z + dt * (b @ k)

    def iteration(i, lanes):
        dts = jnp.stack([jnp.where(i % 2 == 0, 2 * fine_dt, 0.0), fine_dt])
        return jax.vmap(lane_step)(lanes, dts)

    lanes = jax.lax.fori_loop(0, 2 * n_steps, iteration, jnp.stack([z0, z0]))
    return lanes[0], lanes[1]
