"""Modified vector fields of any order for any update rule, by backward error analysis.

For a one-step map z' = step(z, h) with step(z, 0) = z, the modified field f_h, whose time-h flow is the
map itself as a formal series, satisfies (docs/theory.md §3)

    h f_h(z) = log(1 + Delta) z_n |_{n=0} = sum_{k>=1} ((-1)^(k+1) / k) Delta^k z_0,

where z_n = step^n(z) is the orbit and Delta the forward difference in n. Since Delta^k z_0 = O(h^k), the
Taylor coefficients in h of z_1 ... z_{p+1} up to h^(p+1) give f_h = f_1 + h f_2 + ... + h^p f_{p+1}
exactly. The coefficients come from Taylor-mode autodiff (``jax.experimental.jet``) of the orbit in h at
h = 0: exact, no finite differences, and polynomial in p (nested jvp would cost 2^(p+1) orbits and compile
accordingly). jet has no rules for custom derivatives (softplus, logaddexp) or nested jit, so the orbit is
first traced to a jaxpr in which those calls are replaced by their bodies (``_inline``); nor for loops and
branches, which get rules here (``_while_rule``, ``_cond_rule``): a step whose substep count is a traced
``fori_loop`` bound is expanded with its loop kept, traced and compiled once whatever the count.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.experimental import jet as jet_module
from jax.experimental.jet import jet
from jax.extend import core as jcore
from jax.extend.core import primitives

MAX_ORDER = 6


def _evaluate_inlined(jaxpr, consts, *args):
    """Evaluate a jaxpr with jit calls and custom_jvp/custom_vjp calls replaced by their bodies."""
    env = {}

    def read(var):
        return var.val if isinstance(var, jcore.Literal) else env[var]

    env.update(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        values = [read(var) for var in eqn.invars]
        inner = next((eqn.params[k] for k in ("jaxpr", "call_jaxpr", "fun_jaxpr") if k in eqn.params), None)
        if eqn.primitive.name in _INLINED and inner is not None:
            outs = _evaluate_inlined(inner.jaxpr, inner.consts, *values)
        else:
            outs = eqn.primitive.bind(*values, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        env.update(zip(eqn.outvars, outs, strict=True))
    return [read(var) for var in jaxpr.outvars]


_INLINED = {"pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
            "custom_vjp_call_jaxpr", "remat", "checkpoint"}


def _series_of(closed, consts: list, consts_series: list) -> Callable:
    """``(values, series) -> (outputs, output series)``: Taylor mode (jet, unscaled coefficients, as inside a
    jet rule) of the closed jaxpr ``closed`` whose leading inputs are ``consts``, inlined as ``_inline`` does."""

    def expand(values, series):
        # integer inputs (loop counters, branch indices) are held fixed: their series are zero, and jet's rules
        # for integer operations would mistake the zeros carried for them for a series (max promotes to float)
        args, args_series = (*consts, *values), (*consts_series, *series)
        smooth = [i for i, x in enumerate(args) if not jnp.issubdtype(jnp.result_type(x), jnp.integer)]

        def function(*smooth_args):
            full = list(args)
            for i, x in zip(smooth, smooth_args, strict=True):
                full[i] = x
            return _evaluate_inlined(closed.jaxpr, closed.consts, *full)

        outputs, terms = jet_module.jet2(function, [args[i] for i in smooth], [args_series[i] for i in smooth])
        return list(outputs), [list(t) for t in terms]

    return expand


def _while_rule(primals_in, series_in, **params):
    """Taylor mode of a while loop: a loop carrying each value's series, whose body is the body's Taylor mode
    (the condition sees the values only: a traced bound, not a quantity expanded in h)."""
    cond_jaxpr, body_jaxpr, cond_nconsts = params["cond_jaxpr"], params["body_jaxpr"], params["cond_nconsts"]
    split = cond_nconsts + params["body_nconsts"]
    cond_consts = primals_in[:cond_nconsts]
    body = _series_of(body_jaxpr, list(primals_in[cond_nconsts:split]), list(series_in[cond_nconsts:split]))

    def condition(state):
        return _evaluate_inlined(cond_jaxpr.jaxpr, cond_jaxpr.consts, *cond_consts, *state[0])[0]

    return jax.lax.while_loop(condition, lambda state: body(*state),
                              (list(primals_in[split:]), [list(s) for s in series_in[split:]]))


def _cond_rule(primals_in, series_in, **params):
    """Taylor mode of a branch: the branch the index picks, expanded."""
    return jax.lax.switch(primals_in[0], [_series_of(branch, [], []) for branch in params["branches"]],
                          list(primals_in[1:]), [list(s) for s in series_in[1:]])


jet_module.jet_rules.setdefault(primitives.while_p, _while_rule)
jet_module.jet_rules.setdefault(primitives.cond_p, _cond_rule)


def _inline(function: Callable, *example) -> Callable:
    """``function`` as plain primitives (traced once at the example arguments' shapes)."""
    closed = jax.make_jaxpr(function)(*example)
    return lambda *args: _evaluate_inlined(closed.jaxpr, closed.consts, *args)[0]


def modified_coefficients(step: Callable, order: int) -> Callable:
    """``(z, *params) -> [f_1(z), ..., f_{order+1}(z)]`` (shape [order + 1, n]) for ``step(z, h, *params)``.

    The orbit z_1 ... z_{p+1} is carried as truncated Taylor series in h through a loop whose body is one
    Taylor-mode step, so the step is traced (and compiled) once whatever the order."""
    if not (isinstance(order, int) and 0 <= order <= MAX_ORDER):
        raise ValueError(f"the modified-flow order must be an integer from 0 to {MAX_ORDER}, got {order!r}")
    terms = order + 1

    def coefficients(z, *params):
        h0 = jnp.zeros((), z.dtype)
        plain = _inline(lambda x, h: step(x, h, *params), z, h0)
        unit = [jnp.ones((), z.dtype)] + [jnp.zeros((), z.dtype)] * (terms - 1)

        def next_iterate(j, orbit):  # orbit[j] = (z_j, dz_j/dh, ..., d^(p+1) z_j/dh^(p+1)) at h = 0: [p+2, p+2, n]
            x = orbit[j]
            primal, derivatives = jet(plain, (x[0], h0), (list(x[1:]), unit))
            return orbit.at[j + 1].set(jnp.concatenate([primal[None], jnp.stack(derivatives)]))

        start = jnp.zeros((terms + 1, terms + 1, z.size), z.dtype).at[0, 0].set(z)
        orbit = jax.lax.fori_loop(0, terms, next_iterate, start)
        # taylor[i][j] = coefficient of h^(i+1) in z_j, j = 0 ... p+1
        taylor = orbit[:, 1:].swapaxes(0, 1) / jnp.array([math.factorial(i) for i in range(1, terms + 1)],
                                                         z.dtype)[:, None, None]
        fields = []
        for i in range(terms):  # h f_h has the h^(i+1) coefficient f_(i+1)
            total = jnp.zeros_like(z)
            for k in range(1, terms + 1):
                delta_k = sum((-1) ** (k - j) * math.comb(k, j) * taylor[i][j] for j in range(k + 1))
                total = total + ((-1) ** (k + 1) / k) * delta_k
            fields.append(total)
        return jnp.stack(fields)

    return coefficients


def powers_of(h: jax.Array, order: int) -> jax.Array:
    """[1, h, ..., h^order] by integer powers, which Taylor-mode autodiff differentiates at h = 0 (a float
    power h ** 0.0 has the derivative 0 * h^-1 there: NaN)."""
    return jnp.stack([jnp.ones_like(h)] + [h ** i for i in range(1, order + 1)])


def taylor_in_h(function: Callable, order: int, dtype) -> jax.Array:
    """[c_0, ..., c_order] (shape [order + 1, n]) with function(h) = c_0 + c_1 h + ... + c_order h^order +
    O(h^(order + 1)), by Taylor-mode autodiff at h = 0: any smooth dependence on h, not only polynomials."""
    h0 = jnp.zeros((), dtype)
    plain = _inline(function, h0)
    if order == 0:
        return plain(h0)[None]
    unit = [jnp.ones((), dtype)] + [jnp.zeros((), dtype)] * (order - 1)
    primal, derivatives = jet(plain, (h0,), (unit,))
    return jnp.stack([primal] + [d / math.factorial(i) for i, d in enumerate(derivatives, start=1)])


def modified_field(step: Callable, order: int) -> Callable:
    """The modified field ``(z, h, *params) -> f_1 + h f_2 + ... + h^order f_{order+1}`` of
    ``step(z, h, *params)``, truncated after ``order``; jit, vmap and grad work through it."""
    coefficients = modified_coefficients(step, order)

    def field(z, h, *params):
        terms = coefficients(z, *params)
        powers = powers_of(h, order)
        return powers @ terms

    return field
