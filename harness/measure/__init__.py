"""Local and global errors of an update rule against a flow, over a grid of step sizes and initial points.

    local:  e(h, z0) = |Phi_h(z0) - phi_h(z0)|
    global: e(h, z0) = |Phi_h^N(z0) - phi_T(z0)|,  N = T / h steps to a fixed horizon T

with Phi_h the update rule and phi_t the flow's time-t map (reference solution, harness.base.integrate).
One compiled kernel per (game, kernel structure, flow family) serves every learning rate, flow
coefficient matrix, step size, initial point and horizon, and on a two-player game every variant of
simultaneous and alternating GD (``Scheme.kernel_structure``): all of those are traced arguments, and the
(point, step size) pairs are the rows of one batch (on a small game, of 4 points for 1 to 4:
``point_bucket``).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.base import distributed
from harness.base.compiler import jit
from harness.base.errors import UsageError
from harness.base.integrate import EPS, dopri8_rows, reference_solutions
from harness.base.precision import require_float64
from harness.base.result_cache import digest, kept
from harness.flows import Family, Flow, UserFamily, family_field, flow_family, optimizer_coefficients
from harness.flows.optimizer_flows import mean_lag, optimizer_lead
from harness.measure import kernel_cache
from harness.measure.kernel_cache import LOADED, family_key, program_key
from harness.model import identity
from harness.model.game import POINT_BUCKET, Game, is_affine_function, padded
from harness.model.identity import exact_text, result_key
from harness.model.scaled_field import velocity
from harness.rules.optimizers import ADAPTIVE, players
from harness.rules.regimes import on_flow_terms, start_states
from harness.rules.schemes import Scheme, update_map

FLOOR_FACTOR = 1000.0
"""Errors below FLOOR_FACTOR * eps * |z| are treated as round-off (about 2.2e-13 |z|)."""


@dataclass
class Measurement:
    """Errors e[point, step size] with their reference-error estimates and round-off floors (FLOOR_FACTOR *
    eps * |z| per update step)."""

    step_sizes: np.ndarray
    points: np.ndarray
    errors: np.ndarray
    reference_error: np.ndarray
    floor: np.ndarray
    reference: str
    update_steps: np.ndarray | None = None  # N per step size: 1 for local errors, T / h for global ones
    horizon: float | None = None  # T of a global error


def initial_points(game: Game, count: int = 4, seed: int = 0, spread: float = 0.1) -> np.ndarray:
    """The default state, then ``count - 1`` seeded points z0 + spread (1 + |z0|) * N(0, 1)."""
    if count < 1:
        raise UsageError(f"the number of initial points must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    z0 = game.z0
    noise = rng.standard_normal((count - 1, z0.size))
    return np.vstack([z0[None, :], z0 + spread * (1.0 + np.abs(z0)) * noise])


@functools.lru_cache(maxsize=LOADED)
def _power_step(game: Game, structure: tuple):
    """One power-iteration step on J^T J of the rule's leading field at z0 (one JVP, one VJP): the rate-scaled
    field V for every rule but the optimizers, whose leading field is D (harness.flows.optimizer_flows)."""
    if structure[0] == "optimizers":
        lead = optimizer_lead(game, structure[2])
    else:

        def lead(z, params, _coefficients):
            return velocity(game, params)(z)

    def power(v, z0, params, coefficients):
        field = lambda z: lead(z, params, coefficients)  # noqa: E731
        w = jax.vjp(field, z0)[1](jax.jvp(field, (z0,), (v,))[1])[0]
        return w / (jnp.linalg.norm(w) + 1e-300), jnp.linalg.norm(w)

    return jit(power)


@functools.cache
def jacobian_norm(game: Game, scheme: Scheme, iterations: int = 30, at_step: bool = False) -> float:
    """Estimate of the spectral norm of dF/dz at z0 for F = (alpha f, lambda g), by power iteration on
    J^T J with one JVP and one VJP per iteration (no Jacobian is formed). For per-player optimizers, the rate
    at which the rule's state changes along its leading field D: max(|dD/dz|, max_i |(u'D)_i| / N_i) times
    (1 + the longest memory), with N_i = sqrt(u_i^2 + eps) for adaptive players (each coordinate is
    normalised) and |u| for the others (``optimizer_rate``); the memory of the flow on the slow manifold, or
    with ``at_step`` that of the cold start's step n (the flow ``modified-at-step``). Kept across runs
    (harness.base.result_cache) by the game, every field of the scheme (``_scheme_text``), ``iterations`` and
    ``at_step``."""
    text = _scheme_text(scheme)
    key = None if text is None else result_key("jacobian_norm", game, text, iterations, at_step)
    return float(kept(key, lambda: (_jacobian_norm(game, scheme, iterations, at_step),))[0])


def _scheme_text(scheme: Scheme) -> str | None:
    """Every field of a scheme exactly (harness.model.identity.exact_text), for a result's key; None for a user's
    rule, whose code its fields do not hold."""
    return None if scheme.name == "user" else exact_text(scheme)


def _jacobian_norm(game: Game, scheme: Scheme, iterations: int, at_step: bool) -> float:
    structure = scheme.structure if scheme.optimizers else ("field",)
    coefficients = optimizer_coefficients(Flow("gradient"), scheme)[1] if scheme.optimizers else ()
    power = _power_step(game, structure)
    z0 = jnp.asarray(game.z0)
    start = np.random.default_rng(0).standard_normal(z0.size)
    v = jnp.asarray(start / np.linalg.norm(start))
    sigma2, params = 0.0, scheme.params
    for _ in range(iterations):
        v, sigma2 = power(v, z0, params, coefficients)
    norm = float(np.sqrt(sigma2))
    return optimizer_rate(game, scheme, norm, game.z0[None, :], at_step) if scheme.optimizers else norm


def optimizer_rate(game: Game, scheme: Scheme, lead_norm: float, points: np.ndarray, at_step: bool = False) -> float:
    """max(|dD/dz| = ``lead_norm``, max_i |(u'D)_i| / N_i over ``points``) (1 + lag): the relative rate of
    change of the fields the buffers average, stretched by their longest mean lag (d / (1 - d) on the flow,
    less after n steps from a cold start when ``at_step``; nesterov's look-ahead counts as a buffer of decay
    beta). Kept across runs (harness.base.result_cache) by the game, every field of the scheme (``_scheme_text``),
    ``lead_norm``, ``points`` and ``at_step``."""
    text = _scheme_text(scheme)
    key = None if text is None else result_key("optimizer_rate", game, text, float(lead_norm).hex(), digest(points),
                                                at_step)
    return float(kept(key, lambda: (_optimizer_rate(game, scheme, lead_norm, points, at_step),))[0])


def _optimizer_rate(game: Game, scheme: Scheme, lead_norm: float, points: np.ndarray, at_step: bool) -> float:
    optimizers = scheme.optimizers
    assert optimizers is not None
    rates_at = _relative_rates(game, scheme.structure)
    rows = np.asarray(rates_at(jnp.asarray(padded(points)), scheme.params,
                               optimizer_coefficients(Flow("gradient"), scheme)[1]))[: len(points)]
    decays = [d for _, o in players(game, optimizers) for d in [*(b.decay for b in o.buffers), o.look_ahead]]
    n = scheme.measured_step if at_step else math.inf
    return max(lead_norm, float(np.max(rows))) * (1.0 + max(mean_lag(d, n) for d in decays))


@functools.lru_cache(maxsize=LOADED)
def _relative_rates(game: Game, structure: tuple):
    """``(points, params, coefficients) -> [P]``: max_i |(u'D)_i| / N_i at each point (per coordinate N_i =
    sqrt(u_i^2 + eps) or |u_i| + eps for adaptive players, |u| of the player's whole field for the others). Called
    on ``padded`` batches: the default state alone and a check's 1 to 4 points share one compiled program."""
    leading = optimizer_lead(game, structure[2])

    def rate(z, params, coefficients):
        lead = leading(z, params, coefficients)
        u, ud = jax.jvp(game.field, (z,), (lead,))
        rates = []
        for s, o in players(game, structure[2]):
            if o.name in ADAPTIVE:
                size = jnp.sqrt(u[s] ** 2 + o.eps) if o.eps_inside else jnp.abs(u[s]) + o.eps
                rates.append(jnp.max(jnp.abs(ud[s]) / size))
            else:
                rates.append(jnp.linalg.norm(ud[s]) / (jnp.linalg.norm(u[s]) + 1e-300))
        return jnp.max(jnp.stack(rates))

    return jit(jax.vmap(rate, in_axes=(0, None, None)))


def default_step_sizes(game: Game, scheme: Scheme, count: int = 10, decades: float = 1.5,
                       points: np.ndarray | None = None, at_step: bool = False, scale: float | None = None
                       ) -> np.ndarray:
    """A geometric grid of ``count`` step sizes over ``decades`` decades, ending at h_max.

    h_max is the game's ``h_max`` metadata if set, else 0.1 / |dF/dz| at the default state, so that
    h |dF/dz| <= 0.1 over the grid whatever the game's time scale. For per-player optimizers |dF/dz| is
    their ``optimizer_rate``, the largest over the initial ``points`` when given (an adaptive player whose
    field nearly vanishes in a coordinate changes fast there), ``at_step`` as in ``jacobian_norm`` (``scale``:
    that |dF/dz| when already known).
    """
    if count < 3:
        raise UsageError(f"at least 3 step sizes are needed for a fit, got {count}")
    if not decades > 0:
        raise UsageError(f"the step-size range must span a positive number of decades, got {decades}")
    h_max = game.metadata.get("h_max")
    if h_max is None:
        scale = jacobian_norm(game, scheme, at_step=at_step) if scale is None else scale
        if scheme.optimizers and points is not None:
            scale = max(scale, optimizer_rate(game, scheme, 0.0, points, at_step))
        h_max = 0.1 / scale if scale > 0 else 0.1
    return float(h_max) * np.logspace(-decades, 0.0, count)


@functools.lru_cache(maxsize=LOADED)
def _kernel(game: Game, structure: tuple, start: tuple | None, affine: bool, family: Family | UserFamily,
            mesh: jax.sharding.Mesh | None = None):
    """The compiled sweep ``(points [P, n], step sizes [H], update steps [H], reference steps, params,
    coefficients) -> errors, reference errors, floors [P, H]``: from each point, N update steps of size h
    against the flow over time N h (N = 1: local error). The P * H (point, step size) pairs are the rows
    of one explicit batch; N and the reference solver's step count are traced, so local and global
    errors share the kernel. A rule with memory starts as its ``start`` = (regime, n) says
    (harness.rules.regimes); from a cold start the first n - 1 steps lead to the point measured from. On a
    ``mesh`` (``sweep_mesh``) the rows, padded with copies of the last one, are split into blocks along
    "rows", each block run by its devices alone (shard_map), and each state is split along "params"."""
    step = jax.vmap(update_map(game, structure), in_axes=(0, 0, None))
    field = family_field(game, structure, family)

    def rows(z0, h, steps, reference_steps, params, coefficients):
        """Errors, reference errors and floors [B] of B rows: states z0 [B, n], step sizes h and counts N [B]."""
        n = z0.shape[1]
        if mesh is not None and mesh.shape["params"] > 1:
            z0 = jax.lax.with_sharding_constraint(z0, jax.sharding.NamedSharding(
                jax.sharding.get_abstract_mesh(), jax.sharding.PartitionSpec(None, "params")))
        row_field = lambda z, h_row: field(z, h_row, params, coefficients)  # noqa: E731
        if start is not None:
            backward = lambda z: reference_solutions(row_field, z, -h, h, affine)  # noqa: E731
            step_back = lambda z: dopri8_rows(lambda x: jax.vmap(row_field)(x, h), z, -h, 2)  # noqa: E731
            state, prev_error = start_states(game, structure, start[0], z0, backward, step_back)
            if start[1] > 1:
                state = jax.lax.fori_loop(0, start[1] - 1, lambda _, s: step(s, h, params), state)
                z0 = state[:, :n]
        else:
            prev_error, state = 0.0, z0

        def update(i, z):
            return jnp.where((i < steps)[:, None], step(z, h, params), z)

        stepped = jax.lax.fori_loop(0, jnp.max(steps), update, state)[:, :n]
        flowed, reference_error = reference_solutions(row_field, z0, h * steps, h, affine, reference_steps)
        scale = jnp.maximum(jnp.linalg.norm(z0, axis=1), jnp.linalg.norm(stepped, axis=1))
        errors = jnp.linalg.norm(stepped - flowed, axis=1)
        return errors, reference_error + prev_error, FLOOR_FACTOR * EPS * scale * steps

    def sweep(points, step_sizes, update_steps, reference_steps, params, coefficients):
        count = points.shape[0]
        batch = (jnp.repeat(points, step_sizes.size, axis=0), jnp.tile(step_sizes, count),
                 jnp.tile(update_steps, count))
        run = rows
        if mesh is not None:
            pad = -batch[0].shape[0] % mesh.shape["rows"]
            batch = tuple(jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) for x in batch)
            spec = jax.sharding.PartitionSpec
            run = jax.shard_map(rows, mesh=mesh, in_specs=(spec("rows"),) * 3 + (spec(),) * 3, out_specs=spec("rows"),
                                axis_names={"rows"}, check_vma=False)  # no collectives: the rows are independent
        outputs = run(*batch, reference_steps, params, coefficients)
        return tuple(jnp.reshape(x[: count * step_sizes.size], (count, step_sizes.size)) for x in outputs)

    return jit(sweep)


REFERENCE_STEP_SCALE = 0.1
"""The reference's coarse Dopri8 steps span at most REFERENCE_STEP_SCALE / |dF/dz| of time ..."""
MAX_REFERENCE_STEPS = 4096
"""... but there are at most MAX_REFERENCE_STEPS of them (beyond, the error estimate says how far off it is)."""


def reference_steps(game: Game, scheme: Scheme, time_span: float) -> int:
    """Coarse Dopri8 steps N of the reference over ``time_span`` (the fine solution takes 2N): at least 1,
    with dt |dF/dz| <= 0.1, where a step's error ~ (dt |dF/dz|)^9 is far below any measured error; the
    recorded estimate |z_N - z_2N| checks it point by point. At most MAX_REFERENCE_STEPS."""
    steps = time_span * jacobian_norm(game, scheme) / REFERENCE_STEP_SCALE
    if not math.isfinite(steps):
        return MAX_REFERENCE_STEPS
    return int(min(max(1, math.ceil(steps - 1e-9)), MAX_REFERENCE_STEPS))


def _validated(game: Game, step_sizes, points) -> tuple[np.ndarray, np.ndarray]:
    step_sizes = np.asarray(step_sizes, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    if step_sizes.ndim != 1 or not np.all(np.isfinite(step_sizes)) or np.any(step_sizes <= 0):
        raise UsageError("step sizes must be a 1-D array of positive finite numbers")
    if points.ndim != 2 or points.shape[1] != game.z0.size:
        raise UsageError(f"initial points must have shape (count, {game.z0.size}), got {points.shape}")
    return step_sizes, points


PARAM_SHARDS = "HARNESS_PARAM_SHARDS"
"""Environment variable: how many devices split each state along its numbers (default 1)."""


def sweep_mesh(param_shards: int | None = None) -> jax.sharding.Mesh | None:
    """The local devices (over several processes, harness.base.distributed: the devices of all of them) as a
    ("rows", "params") mesh for a sweep, or None on one device.

    The (point, step size) rows of a sweep are independent: the kernel pads them to a multiple of the "rows"
    size and runs each block on its devices alone, with no communication (per-device memory: that of the
    block). p = ``param_shards`` (default: $HARNESS_PARAM_SHARDS, else 1), a divisor of the device count d,
    also splits each state p ways along its numbers (the rows then d / p ways), for a game one row of which
    does not fit a device; XLA gathers the state where the field needs it whole. Measured on 4 CPU devices
    (docs/performance.md): on the MLP GAN that is slower and saves far less memory per device than splitting
    the rows, hence p = 1."""
    devices = jax.devices() if distributed.processes() > 1 else jax.local_devices()
    if len(devices) == 1:
        return None
    if param_shards is None:
        param_shards = int(os.environ.get(PARAM_SHARDS) or 1)
    if param_shards < 1 or len(devices) % param_shards:
        raise UsageError(f"the parameter shards ({param_shards}) must divide the device count ({len(devices)})")
    grid = np.array(devices).reshape(len(devices) // param_shards, param_shards)
    return jax.sharding.Mesh(grid, ("rows", "params"))


_USER_FLOWS_AFFINE: dict[tuple, bool] = {}
identity.register(_USER_FLOWS_AFFINE.clear)  # cleared with the functools memos when a game or flow changed


def _user_flow_is_affine(game: Game, structure: tuple, family: UserFamily, h: float, params: jax.Array) -> bool:
    """Whether a user's flow field is affine in z, so that expm may solve it; decided once per game, rule
    and flow (at the first check's step size and parameters)."""
    key = (game, structure, family)
    if key not in _USER_FLOWS_AFFINE:
        field = family_field(game, structure, family)
        _USER_FLOWS_AFFINE[key] = is_affine_function(lambda z: field(z, h, params, ()), game.z0)
    return _USER_FLOWS_AFFINE[key]


BUCKETED_SIZE = 1000
"""On one device and a game of at most BUCKETED_SIZE numbers, a sweep of fewer than POINT_BUCKET
(harness.model.game) initial points runs POINT_BUCKET rows per step size (copies of the last point), so that 1 to 4
points share one compiled kernel: compiling costs more than those rows. More points, a larger game or a mesh (whose
blocks the copies would fill) run their own rows alone."""


def point_bucket(count: int, size: int, mesh: jax.sharding.Mesh | None = None) -> int:
    """The rows per step size of a sweep of ``count`` points of ``size`` numbers (``BUCKETED_SIZE``)."""
    return POINT_BUCKET if count < POINT_BUCKET and size <= BUCKETED_SIZE and mesh is None else count


LONG_START = 1000
"""A start on the flow that sums this many past steps or more (harness.rules.regimes) makes a sweep run long."""


def runs_long(scheme: Scheme) -> bool:
    """Whether a sweep of ``scheme`` runs longer than it takes to compile, so that it is compiled with XLA's defaults
    (harness.base.compiler.jit): its optimizers start on the flow from LONG_START or more past steps (36,000 for
    Adam's and RMSProp's beta2 = 0.999). Measured cold: `check --game dirac_gan --optimizer adam` 8.5 s with the
    defaults, 16 s with the fusion emitters off, 40 s with LLVM's optimisations off too."""
    optimizers = scheme.optimizers
    return optimizers is not None and scheme.regime == "on-flow" and on_flow_terms(optimizers) >= LONG_START


def _sweep(game, scheme, flow, step_sizes, points, update_steps, reference_steps, coefficients, bea_order,
           affine, horizon=None):
    family, own = flow_family(flow, scheme, bea_order)
    require_float64("the measurement")
    coefficients = own if coefficients is None else tuple(jnp.asarray(x) for x in coefficients)
    # expm needs the field's Jacobian, which is costly to compile through the nested derivatives of bea
    # fields: those are integrated with Dopri8 even on affine games (its error estimate is recorded). A
    # user's flow is solved by expm only when its own field is affine.
    structure = scheme.kernel_structure(game, flow.automatic)
    affine = (game.is_affine() if affine is None else affine) and not flow.automatic
    if affine and isinstance(family, UserFamily):
        affine = _user_flow_is_affine(game, structure, family, float(step_sizes[-1]), scheme.params)
    mesh = sweep_mesh()
    kernel = _kernel(game, structure, scheme.start, affine, family, mesh)
    count = points.shape[0]
    rows = padded(points, point_bucket(count, game.z0.size, mesh))
    # on a mesh the points go to every device (replicated), and the kernel splits the rows; over several
    # processes (harness.base.distributed) every argument is replicated, and every process gathers the result
    if mesh is not None and distributed.processes() > 1:
        args = jax.device_put((rows, step_sizes, update_steps, reference_steps, scheme.params, coefficients),
                              jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    else:
        placed = jnp.asarray(rows) if mesh is None else jax.device_put(
            rows, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
        args = (placed, jnp.asarray(step_sizes), jnp.asarray(update_steps), jnp.asarray(reference_steps),
                scheme.params, coefficients)
    key = (f"{program_key(game, structure)}|"
           f"{family_key(game, structure, family)}|{affine}|{scheme.start}")
    arrays = kernel_cache.kept_call(kernel, key, args, runs_long(scheme))
    errors, reference_error, floor = (distributed.gathered(x)[:count] for x in arrays)
    return Measurement(step_sizes, points, errors, reference_error, floor, "expm" if affine else "dopri8",
                       update_steps, horizon)


def measure_local_error(
    game: Game, scheme: Scheme, flow: Flow, step_sizes: np.ndarray, points: np.ndarray,
    coefficients: tuple | None = None, bea_order: int | None = None, affine: bool | None = None,
) -> Measurement:
    """Local errors |Phi_h(z0) - phi_h(z0)| of ``scheme`` against ``flow`` for every (initial point, step
    size), batched.

    Rules with memory start as their regime says (harness.rules.regimes; on the flow: z_prev = phi_{-h}(z0),
    buffers summed along the flow's backward trajectory).
    ``coefficients`` = (s, c) replaces a closed-form flow's own (harness.flows): a deliberately wrong flow,
    to test the checker itself. ``bea_order`` compiles a bea:P flow at that higher order (its kernel then
    serves every bea flow up to it, see harness.flows.flow_family). ``affine`` says whether the flow may be
    solved exactly by expm (default: ``game.is_affine()``; False forces Dopri8)."""
    step_sizes, points = _validated(game, step_sizes, points)
    ones = np.ones(step_sizes.size, dtype=np.int32)
    steps = reference_steps(game, scheme, step_sizes[-1])
    return _sweep(game, scheme, flow, step_sizes, points, ones, steps, coefficients, bea_order, affine)


MAX_GLOBAL_STEPS = 100_000
"""The most update steps a global error may take at its smallest step size."""


def global_step_sizes(step_sizes: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """(h, N) in increasing h: each step size rounded down to horizon / N with N = ceil(horizon / h) a
    whole number of steps; repeated N are merged."""
    if not (np.isfinite(horizon) and horizon > 0):
        raise UsageError(f"the horizon must be a positive time, got {horizon}")
    counts = np.unique(np.ceil(horizon / np.asarray(step_sizes, dtype=np.float64) - 1e-9).astype(np.int64))[::-1]
    if counts.size < 3:
        raise UsageError(f"horizon {horizon:g} gives only {counts.size} distinct step counts over these step "
                         "sizes; use a longer horizon or more decades")
    if counts[0] > MAX_GLOBAL_STEPS:
        raise UsageError(f"horizon {horizon:g} needs {counts[0]} steps at the smallest step size (at most "
                         f"{MAX_GLOBAL_STEPS}); use a shorter horizon or larger step sizes")
    return horizon / counts, counts.astype(np.int32)


def measure_global_error(
    game: Game, scheme: Scheme, flow: Flow, step_sizes: np.ndarray, points: np.ndarray, horizon: float,
    coefficients: tuple | None = None, bea_order: int | None = None, affine: bool | None = None,
) -> Measurement:
    """Global errors |Phi_h^N(z0) - phi_T(z0)| at the fixed horizon T = N h, for every initial point and
    step size (each rounded so that N = T / h is an integer, see ``global_step_sizes``).

    The reference solves the flow over T as in ``reference_steps``; ``coefficients``, ``bea_order`` and
    ``affine`` are as in ``measure_local_error``."""
    step_sizes, points = _validated(game, step_sizes, points)
    step_sizes, counts = global_step_sizes(step_sizes, horizon)
    steps = reference_steps(game, scheme, horizon)
    return _sweep(game, scheme, flow, step_sizes, points, counts, steps, coefficients, bea_order, affine,
                  float(horizon))
