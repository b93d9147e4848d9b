"""Reference solutions of a flow over time h, each with an estimate of its own error.

- Affine fields F(z) = A z + b (every flow of a game with an affine field): exact,
  z(h) = z0 + [expm(M)]_{:n, n} with M = [[h A, h F(z0)], [0, 0]] (augmented matrix exponential); the
  error estimate is the round-off scale eps (|z0| + (n + 1) |z(h) - z0|).
- Other fields: the 8th-order Dormand-Prince tableau (Dopri8, as diffrax defines it) with fixed steps, run with N and
  2N steps (two lanes of one loop, so the field is compiled once). The 2N solution is returned; its error
  estimate is |z_N - z_2N| (an upper estimate: the 2N solution's error is about 2^8 times smaller than
  that of z_N; the difference also holds both solutions' round-off) plus eps |z|. Fixed steps keep the
  solve batchable with vmap and deterministic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

EPS = float(np.finfo(np.float64).eps)
DEFAULT_STEPS = 4


# Dopri8's Butcher tableau, as diffrax 0.7.2 defines it (diffrax/_solver/dopri8.py; Dormand & Prince's 8(7)
# pair with its 14th, first-same-as-last stage), written out so that no run imports diffrax for it (0.8 s);
# tests/test_integrate.py checks it against diffrax's bit for bit.
_A_LOWER = (  # row i: the coefficients of stages 0 .. i-1 in stage i (stage 0 has none)
    (0.05555555555555555,),
    (0.020833333333333332, 0.0625),
    (0.03125, 0.0, 0.09375),
    (0.3125, 0.0, -1.171875, 1.171875),
    (0.0375, 0.0, 0.0, 0.1875, 0.15),
    (0.04791013711111111, 0.0, 0.0, 0.11224871277777777, -0.02550567377777778, 0.012846823888888888),
    (0.01691798978729228, 0.0, 0.0, 0.3878482784860432, 0.03597736985150033, 0.19697021421566607, -0.17271385234050185),
    (0.0690957533591923, 0.0, 0.0, -0.6342479767288541, -0.16119757522460407, 0.13865030945882525,
     0.9409286140357562, 0.21163632648194397),
    (0.1835569968390454, 0.0, 0.0, -2.4687680843155926, -0.29128688781630047, -0.026473020233117376,
     2.8478387641928005, 0.2813873314698498, 0.12374489986331466),
    (-1.2154248173958881, 0.0, 0.0, 16.672608665945774, 0.915741828416818, -6.056605804357471, -16.00357359415618,
     14.849303086297663, -13.371575735289849, 5.134182648179638),
    (0.25886091643826425, 0.0, 0.0, -4.774485785489205, -0.4350930137770325, -3.0494833320722416,
     5.5779200399360995, 6.15583158986104, -5.062104586736939, 2.193926173180679, 0.13462799865933495),
    (0.8224275996265075, 0.0, 0.0, -11.658673257277664, -0.7576221166909362, 0.7139735881595816,
     12.075774986890057, -2.127659113920403, 1.9901662070489554, -0.23428647154404028, 0.17589857770794226, 0.0),
    (0.041747491141530244, 0.0, 0.0, 0.0, 0.0, -0.05545232861123931, 0.2393128072011801, 0.703510669403443,
     -0.7597596138144609, 0.6605630309222863, 0.15818748251012332, -0.2381095387528628, 0.25),
)
_B = _A_LOWER[-1] + (0.0,)
"""The 8th-order solution's weights: the last stage's row (first same as last), the last stage itself unused."""


@functools.cache
def _tableau() -> tuple[np.ndarray, np.ndarray]:
    """Dopri8's tableau as arrays: A [stages, stages] (strictly lower triangular) and b [stages]."""
    a = np.zeros((len(_B), len(_B)))
    for row, coefficients in enumerate(_A_LOWER, start=1):
        a[row, : len(coefficients)] = coefficients
    return a, np.array(_B)


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
