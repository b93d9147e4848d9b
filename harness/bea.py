"""Modified vector fields of any order for any update rule, by backward error analysis.

For a one-step map z' = step(z, h) with step(z, 0) = z, the modified field f_h, whose time-h flow is the
map itself as a formal series, satisfies (THEORY.md §3)

    h f_h(z) = log(1 + Delta) z_n |_{n=0} = sum_{k>=1} ((-1)^(k+1) / k) Delta^k z_0,

where z_n = step^n(z) is the orbit and Delta the forward difference in n. Since Delta^k z_0 = O(h^k), the
Taylor coefficients in h of z_1 ... z_{p+1} up to h^(p+1) give f_h = f_1 + h f_2 + ... + h^p f_{p+1}
exactly. The coefficients are derivatives in h at h = 0, taken by nested forward-mode autodiff (jvp):
exact, no finite differences, and it sees through every JAX primitive (Taylor-mode ``jax.experimental.jet``
fails on functions with custom derivative rules such as softplus). The cost grows as 2^(p+1) evaluations
of the orbit, which is what orders 0 to 4 need.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

MAX_ORDER = 6


def _derivatives(function: Callable, order: int) -> Callable:
    """h -> [F(h), F'(h), ..., F^(order)(h)] by nested jvp."""
    if order == 0:
        return lambda h: [function(h)]
    lower = _derivatives(function, order - 1)

    def all_orders(h):
        values, tangents = jax.jvp(lower, (h,), (jnp.ones_like(h),))
        return [values[0], *tangents]

    return all_orders


def modified_coefficients(step: Callable, order: int) -> Callable:
    """``(z, *params) -> [f_1(z), ..., f_{order+1}(z)]`` (shape [order + 1, n]) for ``step(z, h, *params)``."""
    if not (isinstance(order, int) and 0 <= order <= MAX_ORDER):
        raise ValueError(f"the modified-flow order must be an integer from 0 to {MAX_ORDER}, got {order!r}")
    terms = order + 1

    def coefficients(z, *params):
        def orbit(h):
            iterates, x = [], z
            for _ in range(terms):
                x = step(x, h, *params)
                iterates.append(x)
            return jnp.stack(iterates)  # z_1 ... z_{p+1}

        derivatives = _derivatives(orbit, terms)(jnp.zeros((), z.dtype))
        # taylor[i][j] = coefficient of h^i in z_j, for j = 0 ... p+1 (z_0 = z does not depend on h)
        taylor = [jnp.concatenate([z[None] if i == 0 else jnp.zeros_like(z)[None], d / math.factorial(i)])
                  for i, d in enumerate(derivatives)]
        fields = []
        for i in range(1, terms + 1):  # h f_h has the h^i coefficient f_i
            total = jnp.zeros_like(z)
            for k in range(1, terms + 1):
                delta_k = sum((-1) ** (k - j) * math.comb(k, j) * taylor[i][j] for j in range(k + 1))
                total = total + ((-1) ** (k + 1) / k) * delta_k
            fields.append(total)
        return jnp.stack(fields)

    return coefficients


def modified_field(step: Callable, order: int) -> Callable:
    """The modified field ``(z, h, *params) -> f_1 + h f_2 + ... + h^order f_{order+1}`` of
    ``step(z, h, *params)``, truncated after ``order``; jit, vmap and grad work through it."""
    coefficients = modified_coefficients(step, order)

    def field(z, h, *params):
        terms = coefficients(z, *params)
        powers = h ** jnp.arange(order + 1, dtype=z.dtype)
        return powers @ terms

    return field
