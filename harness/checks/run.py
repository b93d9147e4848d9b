"""Running checks: the plan of a check (``plan_check``), its measurement and its verdict (``run_check``), and many
checks sharing compiled kernels, in threads or processes (``run_checks``)."""

from __future__ import annotations

import contextlib
import math
import pickle
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from harness.base.errors import HarnessError
from harness.base.parallel import Processes, ordered_map
from harness.base.precision import float64
from harness.checks.spec import CheckResult, CheckSpec, Settings
from harness.measure import (
    default_step_sizes,
    initial_points,
    jacobian_norm,
    measure_global_error,
    measure_local_error,
    two_step,
)
from harness.model import identity
from harness.model.game import Game
from harness.verdict import guards, verdict
from harness.verdict.fit import fit_order
from harness.verdict.series import Series, consistency, error_series, hint, rule_orders_needed

GLOBAL_HORIZON = 10.0
"""Default horizon of a global error, in units of the largest step size."""


def measurement_grid(game: Game, spec: CheckSpec, settings: Settings, scale: float | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The step sizes and initial points a check measures at (``scale``: |dV/dz| when already known)."""
    points = initial_points(game, settings.points, settings.seed)
    if spec.scheme.two_step:
        return two_step.step_sizes(game, spec.scheme, settings.step_sizes, settings.decades, settings.h_max), points
    if settings.h_max is not None:
        step_sizes = settings.h_max * np.logspace(-settings.decades, 0.0, settings.step_sizes)
    else:
        step_sizes = default_step_sizes(game, spec.scheme, settings.step_sizes, settings.decades, points,
                                        spec.at_step, scale)
    return step_sizes, points


@dataclass(frozen=True)
class Plan:
    """What a check measures, computed once before measuring: the step sizes, the initial points (equilibria
    moved off), the scale |dV/dz| of the rule's leading field (harness.measure.jacobian_norm), the slope expected
    (the check's, else the natural one of its flow and rule), whether the flow is affine in z, and the notes of
    the guards that ran before measuring."""

    step_sizes: np.ndarray
    points: np.ndarray
    scale: float
    expected_slope: float
    affine: bool
    notes: tuple[str, ...]


def plan_scale(game: Game, spec: CheckSpec) -> float:
    """The scale |dV/dz| of a check's plan: harness.measure.jacobian_norm of its rule's leading field (for the flow
    ``modified-at-step``, with the memory of the cold start's step n)."""
    return jacobian_norm(game, spec.scheme, at_step=spec.at_step)


def plan_check(game: Game, spec: CheckSpec, settings: Settings) -> Plan:
    """The plan of a one-step or multistep check (the guards before measuring run here)."""
    scale = plan_scale(game, spec)
    step_sizes, points = measurement_grid(game, spec, settings, scale)
    affine, notes = guards.before_measuring(game, spec.scheme, spec.flow, points, step_sizes, settings.seed)
    points, equilibria = guards.without_equilibria(game, points)
    expected = spec.natural_slope if spec.expected_slope is None else spec.expected_slope
    return Plan(step_sizes, points, scale, expected, affine, tuple(equilibria + notes))


@float64
def run_check(game: Game, spec: CheckSpec, settings: Settings = Settings(), bea_order: int | None = None,
              series_order: int | None = None, *, refresh: bool = True) -> CheckResult:
    """Measure and judge one check (``bea_order``: see harness.measure.measure_local_error) and compute its
    error series (``series_order``: the rule's coefficients computed to that order, see
    harness.verdict.series.coefficients). A game, rule or flow whose code or data changed since last seen is traced
    afresh (harness.model.identity.refresh; ``refresh=False`` when the caller did it)."""
    if refresh:
        identity.refresh([game], user_functions(spec))
    if spec.scheme.two_step:
        return run_two_step_check(game, spec, settings)
    start = time.perf_counter()
    plan = plan_check(game, spec, settings)
    if spec.measure == "global":
        horizon = spec.horizon or GLOBAL_HORIZON * plan.step_sizes[-1]
        measurement = measure_global_error(game, spec.scheme, spec.flow, plan.step_sizes, plan.points, horizon,
                                           bea_order=bea_order, affine=plan.affine)
    else:
        measurement = measure_local_error(game, spec.scheme, spec.flow, plan.step_sizes, plan.points,
                                          bea_order=bea_order, affine=plan.affine)
    fit = fit_order(measurement, plan.expected_slope, settings.tolerance, plan.step_sizes[-1] * plan.scale)
    outside, smoothness = guards.after_fit(game, spec.scheme, measurement, fit, bool(plan.notes), plan.scale)
    series = error_series(game, spec.scheme, spec.flow, plan.points, plan.scale, spec.measure, settings.seed,
                          series_order)
    disagreement = consistency(series, fit.status, fit.slope, settings.tolerance, outside is not None)
    advice = hint(series, game, spec.scheme, spec.flow, fit.status, fit.slope, plan.expected_slope,
                  settings.tolerance)
    judged = verdict(fit, guards=(outside, smoothness), notes=plan.notes, series=(disagreement, advice))
    return CheckResult(spec, judged, measurement, settings, time.perf_counter() - start, series=series)


def series_of(result: CheckResult, game: Game, terms: tuple = ()) -> Series:
    """The error series of a check's ``result`` at its measured points and its plan's scale, with the user's
    ``terms`` in the basis (harness.verdict.series.error_series)."""
    spec = result.spec
    return error_series(game, spec.scheme, spec.flow, result.measurement.points, plan_scale(game, spec),
                        spec.measure, result.settings.seed, terms=terms)


def user_functions(spec: CheckSpec) -> list:
    """The user's flow and rule of a check (harness.model.user.UserFunction), those it has."""
    found = [spec.flow.user] if spec.flow.user is not None else []
    if spec.scheme.name == "user":
        with contextlib.suppress(HarnessError):  # a rule that cannot be used says so when the check runs
            found.append(spec.scheme.user_rule)
    return found


def run_two_step_check(game: Game, spec: CheckSpec, settings: Settings) -> CheckResult:
    """Measure and judge a second-order ODE against a two-step method by its two-step residual
    (harness.measure.two_step); the step sizes are the time steps tau (s = tau^q, q the rule's ``time_power``),
    and no error series is computed."""
    start = time.perf_counter()
    taus, points = measurement_grid(game, spec, settings)
    guards.check_points(game, points, settings.seed)
    guards.check_pure(game, points)
    guards.check_user_functions(game, spec.scheme, spec.flow, points, taus ** two_step.time_power(spec.scheme))
    points, notes = guards.without_equilibria(game, points)
    measurement = two_step.measure_two_step_residual(game, spec.scheme, spec.flow, taus, points)
    scale = math.sqrt(plan_scale(game, spec))
    expected = spec.natural_slope if spec.expected_slope is None else spec.expected_slope
    fit = fit_order(measurement, expected, settings.tolerance, taus[-1] * scale)
    return CheckResult(spec, verdict(fit, notes=notes), measurement, settings, time.perf_counter() - start)


def kernel_group(spec: CheckSpec, game: Game) -> tuple:
    """The checks measured with one compiled kernel share this key: (game, kernel structure, automatic)."""
    return spec.game, spec.scheme.kernel_structure(game, spec.flow.automatic), spec.flow.automatic


def shared_bea_orders(specs: Iterable[CheckSpec], games: dict[str, Game]) -> dict[tuple, int]:
    """``kernel_group`` of the bea:P checks among ``specs`` -> their highest P: compiled once at that order,
    one kernel serves all of them."""
    orders: dict[tuple, int] = {}
    for spec in specs:
        if spec.flow.automatic:
            key = kernel_group(spec, games[spec.game])
            orders[key] = max(orders.get(key, 0), spec.flow.order)
    return orders


def shared_series_orders(specs: Iterable[CheckSpec], games: dict[str, Game]) -> dict[tuple, int]:
    """(game, the rule's kernel structure) -> the highest series order its checks need: the rule's
    coefficients are computed once at that order for all of them (harness.verdict.series)."""
    orders: dict[tuple, int] = {}
    for spec in specs:
        if not (spec.scheme.lifted or spec.scheme.two_step):
            key = series_group(spec, games[spec.game])
            orders[key] = max(orders.get(key, 0), rule_orders_needed(spec.flow, spec.scheme))
    return orders


def series_group(spec: CheckSpec, game: Game) -> tuple:
    return spec.game, spec.scheme.kernel_structure(game, False)


def units(specs: list[CheckSpec], games: dict[str, Game]) -> list[list[int]]:
    """The positions of the checks of each unit (sharing a kernel or series coefficients, transitively), the
    units in the order of their first check."""
    parent: dict[Hashable, Hashable] = {}

    def root(key: Hashable) -> Hashable:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys = []
    for spec in specs:
        game = games[spec.game]
        kernel = ("kernel", kernel_group(spec, game))
        parent[root(("series", series_group(spec, game)))] = root(kernel)
        keys.append(kernel)
    grouped: dict[Hashable, list[int]] = {}
    for position, key in enumerate(keys):
        grouped.setdefault(root(key), []).append(position)
    return list(grouped.values())


@float64
def run_checks(
    specs: Iterable[CheckSpec],
    games: dict[str, Game],
    settings: Settings = Settings(),
    progress: Callable[[int, int, CheckResult], None] | None = None,
    jobs: int = 1,
    processes: bool = False,
) -> list[CheckResult]:
    """Run checks, calling ``progress(done, total, result)`` after each, in order; the user's functions are
    checked first (harness.verdict.guards.check_user_functions); the bea checks share kernels
    (``shared_bea_orders``). With ``jobs`` > 1 the checks of different kernels run in that many threads
    (harness.base.parallel: one kernel compiles while the next is traced). With ``processes`` too, when every
    game is the catalog's and no function is the user's, each helper thread hands its ``units`` to a spawned
    process of its own (``_processes``), so that tracing runs in parallel too: for a caller whose main module
    can be imported again without running anything (the ``harness`` command; a script's work under
    ``if __name__ == "__main__":``). The results are those of a serial run."""
    specs = list(specs)
    identity.refresh([games[spec.game] for spec in specs if spec.game in games],
                     [user for spec in specs for user in user_functions(spec)])
    for spec in specs:  # a user's function that cannot run stops the run before anything is measured
        if spec.flow.user is not None or spec.scheme.name == "user":
            game = games[spec.game]
            step_sizes, points = measurement_grid(game, spec, settings)
            guards.check_user_functions(game, spec.scheme, spec.flow, points, step_sizes)
    orders = shared_bea_orders(specs, games)
    series = shared_series_orders(specs, games)
    bea = [orders.get(kernel_group(spec, games[spec.game])) for spec in specs]
    rule_series = [series.get(series_group(spec, games[spec.game])) for spec in specs]

    def one(position: int) -> CheckResult:
        spec = specs[position]
        return run_check(games[spec.game], spec, settings, bea[position], rule_series[position], refresh=False)

    helpers = _processes(specs, games, settings, bea, rule_series) if jobs > 1 and processes else None
    if helpers is not None:  # a unit (kernels and series shared) never runs in two processes
        unit = {position: number for number, found in enumerate(units(specs, games)) for position in found}
        group: Callable[[int], Hashable] = unit.__getitem__
    else:
        group = lambda position: kernel_group(specs[position], games[specs[position].game])  # noqa: E731
    results = []
    with contextlib.closing(ordered_map(one, range(len(specs)), jobs, group, helpers)) as ordered:
        for index, result in enumerate(ordered, start=1):
            results.append(result)
            if progress:
                progress(index, len(specs), result)
    return results


def _processes(specs: list[CheckSpec], games: dict[str, Game], settings: Settings, bea: list, rule_series: list
               ) -> Processes | None:
    """Helper processes for ``run_checks`` (harness.base.parallel.Processes) when a process can rebuild the run
    from a pickle: every game the catalog's own object (a process loads the catalog and compares each game's
    fingerprint), no rule or flow of the user's (a process would import their files again); else None."""
    from harness.model.catalog import catalog

    used = {spec.game: games[spec.game] for spec in specs}
    built_in = catalog()
    if any(built_in.get(name) is not game for name, game in used.items()):
        return None
    if any(spec.scheme.name == "user" or spec.flow.user is not None for spec in specs):
        return None
    fingerprints = {name: identity.fingerprint(game) for name, game in used.items()}
    arguments = (fingerprints, specs, settings, bea, rule_series)
    try:
        pickle.dumps(arguments)
    except Exception:  # noqa: BLE001  a value that does not pickle: threads
        return None
    return Processes(_process_setup, arguments, _process_run)


_PROCESS: dict[str, Any] = {}
"""A helper process's run (``_process_setup``): its games, specs, settings and kernel orders."""


def _process_setup(fingerprints: dict[str, str | None], specs: list[CheckSpec], settings: Settings, bea: list,
                   rule_series: list) -> None:
    """Start a helper process: the garbage collector and the caches as the command line has them, the catalog's
    games, each compared with the fingerprint it had in the parent (a game that differs fails the process's
    checks)."""
    from harness.base import cache_config, collector
    from harness.model.catalog import catalog

    collector.tune()
    cache_config.enable_compilation_cache()
    games = {name: catalog()[name] for name in fingerprints}
    with jax.enable_x64(True):
        identity.refresh(games.values())
        differ = [name for name, game in games.items() if identity.fingerprint(game) != fingerprints[name]]
    problem = HarnessError(f"the catalog's game {differ[0]!r} differs from the running one's: run with --jobs 1"
                           ) if differ else None
    _PROCESS.update(games=games, specs=specs, settings=settings, bea=bea, rule_series=rule_series, problem=problem)


@float64
def _process_run(positions: list[int]) -> list[tuple[bool, Any]]:
    """Run the checks at ``positions`` in a helper process, in order, stopping after the first that raises."""
    if _PROCESS["problem"] is not None:
        return [(False, _PROCESS["problem"])]
    outcomes: list[tuple[bool, Any]] = []
    for position in positions:
        spec = _PROCESS["specs"][position]
        try:
            outcomes.append((True, run_check(_PROCESS["games"][spec.game], spec, _PROCESS["settings"],
                                             _PROCESS["bea"][position], _PROCESS["rule_series"][position],
                                             refresh=False)))
        except Exception as exc:  # noqa: BLE001  the parent raises it at this check's place
            outcomes.append((False, exc))
            break
    return outcomes
