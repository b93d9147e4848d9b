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

import functools
from collections.abc import Callable
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.result_cache import kept

EPS = float(np.finfo(np.float64).eps)
DEFAULT_STEPS = 4


@functools.cache
def _tableau() -> tuple[np.ndarray, np.ndarray]:
    """Dopri8's Butcher tableau (A [stages, stages], b [stages]), read from diffrax once per diffrax version and
    kept (harness.base.result_cache): importing diffrax takes about a second, spent once per diffrax version
    instead of by every run that builds a kernel."""
    key = f"dopri8 tableau|diffrax {metadata.version('diffrax')}"
    a, b = kept(key, _diffrax_tableau)
    return a, b


def _diffrax_tableau() -> tuple[np.ndarray, np.ndarray]:
    import diffrax

    tableau = diffrax.Dopri8.tableau
    stages = len(tableau.b_sol)
    a = np.zeros((stages, stages))
    for row, coefficients in enumerate(tableau.a_lower, start=1):
        a[row, : len(coefficients)] = coefficients
    return a, np.asarray(tableau.b_sol, dtype=np.float64)


def _dopri8_step(field: Callable, z: jax.Array, dt: jax.Array) -> jax.Array:
    """One Dopri8 step of every row of z ([B, n]) with its own step dt ([B]); ``field`` maps [B, n] to
    [B, n]. The stages run in a loop, so the field is traced once."""
    a, b = (jnp.asarray(x) for x in _tableau())

    def stage(i, k):  # k: [stages, B, n]
        return k.at[i].set(field(z + dt[:, None] * jnp.tensordot(a[i], k, axes=1)))

    k = jax.lax.fori_loop(0, len(b), stage, jnp.zeros((len(b), *z.shape), z.dtype))
    return z + dt[:, None] * jnp.tensordot(b, k, axes=1)


def dopri8_rows(rows: Callable, z0: jax.Array, t: jax.Array, n_steps: int) -> jax.Array:
    """z(t) of every row of z0 ([B, n]) over its own time t ([B]) by ``n_steps`` fixed Dopri8 steps, with no
    error estimate; ``rows`` maps [B, n] to [B, n]."""
    dt = t / n_steps
    return jax.lax.fori_loop(0, n_steps, lambda _, z: _dopri8_step(rows, z, dt), z0)


def rk8(field: Callable, z0: jax.Array, t: jax.Array, n_steps: int) -> jax.Array:
    """z(t) for z' = field(z) by ``n_steps`` fixed Dopri8 steps."""
    return dopri8_rows(lambda z: field(z[0])[None], z0[None], jnp.reshape(t, (1,)), n_steps)[0]


def expm_flow(field: Callable, z0: jax.Array, t: jax.Array) -> jax.Array:
    """Exact z(t) for an affine field, by the augmented matrix exponential."""
    n = z0.size
    jac = jax.jacfwd(field)(z0)
    top = jnp.concatenate([t * jac, (t * field(z0))[:, None]], axis=1)
    augmented = jnp.concatenate([top, jnp.zeros((1, n + 1))], axis=0)
    return z0 + jax.scipy.linalg.expm(augmented)[:n, n]


def reference_solutions(
    field: Callable, z0: jax.Array, t: jax.Array, args, affine: bool, n_steps: int = DEFAULT_STEPS
) -> tuple[jax.Array, jax.Array]:
    """(z(t), estimated error of z(t)) for every row: z' = field(z, arg), z(0) = z0, over its own time t.

    z0 is [B, n]; t is [B]; ``args`` is a pytree of per-row arguments (leading axis B) passed to
    ``field(z, arg)``, which is written for one row. The rows are batched explicitly (one vmap of the
    field, no vmap around the solver loops), which keeps tracing short for large fields."""
    if affine:
        z_t = jax.vmap(lambda z, s, arg: expm_flow(lambda x: field(x, arg), z, s))(z0, t, args)
        scale = jnp.linalg.norm(z0, axis=1) + (z0.shape[1] + 1) * jnp.linalg.norm(z_t - z0, axis=1)
        return z_t, EPS * scale
    coarse, fine = _coarse_and_fine(jax.vmap(field), z0, t, args, n_steps)
    return fine, jnp.linalg.norm(coarse - fine, axis=1) + EPS * jnp.linalg.norm(fine, axis=1)


def reference_solution(
    field: Callable, z0: jax.Array, t: jax.Array | float, affine: bool, n_steps: int = DEFAULT_STEPS
) -> tuple[jax.Array, jax.Array]:
    """(z(t), estimated error of z(t)) for z' = field(z), z(0) = z0 (see the module docstring)."""
    z_t, error = reference_solutions(lambda z, _: field(z), jnp.asarray(z0)[None], jnp.reshape(t, (1,)),
                                     jnp.zeros(1), affine, n_steps)
    return z_t[0], error[0]


def _coarse_and_fine(rows: Callable, z0: jax.Array, t: jax.Array, args, n_steps: int) -> tuple:
    """The N-step and 2N-step Dopri8 solutions of every row, computed as two lanes of one loop so that the
    field is traced (and compiled) once: over 2N iterations the fine lane steps t/2N each time, the coarse
    lane steps t/N on even iterations and stands still (step 0) on odd ones. ``rows(z, args)`` is the
    field on a batch of rows."""
    count = z0.shape[0]
    both_args = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x]), args)
    field = lambda z: rows(z, both_args)  # noqa: E731
    fine_dt = t / (2 * n_steps)

    def iteration(i, lanes):
        dts = jnp.concatenate([jnp.where(i % 2 == 0, 2 * fine_dt, 0.0), fine_dt])
        return _dopri8_step(field, lanes, dts)

    lanes = jax.lax.fori_loop(0, 2 * n_steps, iteration, jnp.concatenate([z0, z0]))
    return lanes[:count], lanes[count:]
