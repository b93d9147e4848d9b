"""Checks: one (game, update rule, flow, expectation), run and judged; and the check matrix file.

The JSON document written by ``harness check --json`` (``results_document``) is a public contract:
``schema_version`` and ``results``, one entry per check with ``game``, ``scheme``, ``flow``,
``expected_slope``, ``fitted_slope``, ``status``, ``passed``, ``step_sizes``, ``points``, ``errors``,
``reference_error``, ``series`` (the error series, harness.verdict.series) and more fields, listed in
``CheckResult.to_dict``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from harness.base.errors import FlowError, HarnessError, MatrixError, ResultsError, UsageError
from harness.base.parallel import ordered_map
from harness.base.precision import float64
from harness.base.status import Status
from harness.flows import Flow
from harness.measure import (
    Measurement,
    default_step_sizes,
    initial_points,
    jacobian_norm,
    measure_global_error,
    measure_local_error,
    two_step,
)
from harness.model import identity
from harness.model.game import Game
from harness.model.user import is_file_spec, resolve
from harness.rules import OPTIONS
from harness.rules.schemes import FIELD_OPTIONS, Scheme
from harness.verdict import guards, verdict
from harness.verdict.fit import DEFAULT_TOLERANCE, MAX_DECADES, MIN_DECADES, Fit, fit_order
from harness.verdict.series import Series, consistency, error_series, hint, rule_orders_needed

SCHEMA_VERSION = 1
DEFAULT_MATRIX = Path(__file__).with_name("check_matrix.toml")
LITERATURE_MATRIX = Path(__file__).resolve().parents[2] / "literature" / "check_matrix.toml"
BUNDLED_MATRICES = {"default": DEFAULT_MATRIX, "large": Path(__file__).with_name("check_matrix_large.toml"),
                    "optimizers": Path(__file__).with_name("check_matrix_optimizers.toml"),
                    "literature": LITERATURE_MATRIX}
"""Matrix files shipped with the harness, by the name ``--matrix`` accepts in place of a path (``literature``:
the repository's literature/ catalog, present in a clone or an editable install)."""
STATUSES = tuple(Status)


@dataclass(frozen=True)
class Settings:
    """How checks measure: tolerance on the slope, initial points, step-size grid, seed."""

    tolerance: float = DEFAULT_TOLERANCE
    points: int = 4
    step_sizes: int = 10
    decades: float = 1.5
    seed: int = 0
    h_max: float | None = None

    def __post_init__(self) -> None:
        for key in ("points", "step_sizes", "seed"):
            if not _integer(getattr(self, key)):
                raise UsageError(f"{key} must be an integer, got {getattr(self, key)!r}")
        for key in ("tolerance", "decades", "h_max"):
            if not (_real(getattr(self, key)) or (key == "h_max" and self.h_max is None)):
                raise UsageError(f"{key} must be a number, got {getattr(self, key)!r}")
        if self.seed < 0:
            raise UsageError(f"seed must be a non-negative integer, got {self.seed}")
        if math.isfinite(self.decades) and self.decades > 0 and not MIN_DECADES <= self.decades <= MAX_DECADES:
            raise UsageError(f"decades must be from {MIN_DECADES:g} (the least span a slope is fitted over) to "
                             f"{MAX_DECADES:g} (wider ranges only add step sizes at the round-off floor), got "
                             f"{self.decades:g}")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise UsageError(f"tolerance must be positive, got {self.tolerance}")
        if self.points < 1:
            raise UsageError(f"points must be at least 1, got {self.points}")
        if self.step_sizes < 4:
            raise UsageError(f"step_sizes must be at least 4, got {self.step_sizes}")
        if not (math.isfinite(self.decades) and self.decades > 0):
            raise UsageError(f"decades must be positive, got {self.decades}")
        if self.h_max is not None and not (math.isfinite(self.h_max) and self.h_max > 0):
            raise UsageError(f"h_max must be a positive step size, got {self.h_max}")


def _integer(value) -> bool:
    """Whether ``value`` is an integer (not a bool, which TOML and Python also count as one)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value) -> bool:
    """Whether ``value`` is a real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


MEASURES = ("local", "global")


@dataclass(frozen=True)
class CheckSpec:
    """What to check and what to expect. ``expected_slope`` defaults to max(p + 2, q + 1) for the local
    error of a flow of order p and a method of order q (a flow truncated below the method's order is the
    gradient flow), one less for the global error at a fixed ``horizon`` (default GLOBAL_HORIZON largest
    step sizes)."""

    game: str
    scheme: Scheme
    flow: Flow
    expected_slope: float | None = None
    expected_status: str = Status.PASS
    reason: str = ""
    measure: str = "local"
    horizon: float | None = None

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise UsageError(f"unknown measure {self.measure!r}; choose local or global")
        if self.horizon is not None and (self.measure != "global" or not (math.isfinite(self.horizon)
                                                                          and self.horizon > 0)):
            raise UsageError(f"a horizon must be a positive time and goes with measure global, got {self.horizon}")
        if self.scheme.two_step and not self.flow.second_order:
            raise FlowError(f"{self.scheme.name} is checked against second-order ODEs, flow(V, x, v, t, s) -> "
                            f"acceleration (harness.measure.two_step), not the flow {self.flow.label}")
        if self.flow.second_order and not self.scheme.two_step:
            raise FlowError(f"the second-order ODE {self.flow.label} is checked against a two-step method "
                            f"(heavy_ball_sc, nag_sc, nag_c), not {self.scheme.name}")
        if self.flow.second_order and self.measure != "local":
            raise FlowError("a second-order ODE is checked by its two-step residual (measure local) only")
        if self.expected_slope is None:
            object.__setattr__(self, "expected_slope", self.natural_slope)
        elif not (_real(self.expected_slope) and math.isfinite(self.expected_slope) and self.expected_slope > 0):
            raise UsageError(f"expected_slope must be a finite positive number, got {self.expected_slope!r}")
        if self.expected_status not in STATUSES:
            raise UsageError(f"unknown expected status {self.expected_status!r}; one of {', '.join(STATUSES)}")
        _check_params_named(self.scheme, self.flow)

    @property
    def natural_slope(self) -> float:
        """max(p + 2, q + 1) for a flow of order p and a rule of order q, one less for a global error: the
        default expectation. From a cold start it is at most the regime's ``Scheme.steady_slope`` (1 or 2),
        except against ``modified-at-step``, the flow of that start. A second-order ODE of resolution p: p + 3
        (its two-step residual, in tau = sqrt(s))."""
        if self.flow.second_order:
            return self.flow.claimed_slope
        slope = float(max(self.flow.order + 2, self.scheme.method_order + 1))
        limit = self.scheme.steady_slope
        if limit is not None and self.flow.name != "modified-at-step":
            slope = min(slope, limit)
        return slope - (self.measure == "global")

    @property
    def at_step(self) -> bool:
        """Whether the flow is that of a cold start's step n (its memory is shorter than on the flow)."""
        return self.flow.name == "modified-at-step" and self.flow.user is None

    @property
    def label(self) -> str:
        label = f"{self.game} · {self.scheme.label} · {self.flow.label}"
        return label if self.measure == "local" else f"{label} · global"


@dataclass
class CheckResult:
    spec: CheckSpec
    fit: Fit
    measurement: Measurement
    settings: Settings
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    series: Series | None = None  # the error series (harness.verdict.series); None when not computed

    @property
    def passed(self) -> bool:
        return self.fit.status == self.spec.expected_status

    def to_dict(self) -> dict:
        """The check as the JSON contract's plain data (non-finite numbers become null)."""
        m, fit = self.measurement, self.fit
        return {
            "game": self.spec.game,
            "scheme": self.spec.scheme.to_dict(),
            "flow": self.spec.flow.to_dict(),
            "expected_slope": self.spec.expected_slope,
            "expected_status": self.spec.expected_status,
            "reason": self.spec.reason,
            "fitted_slope": _number(fit.slope),
            "slope_stderr": _number(fit.stderr),
            "tolerance": self.settings.tolerance,
            "status": fit.status,
            "passed": self.passed,
            "reasons": list(fit.reasons),
            "fit_range": list(fit.fit_range) if fit.fit_range else None,
            "reference": m.reference,
            "measure": self.spec.measure,
            "horizon": m.horizon,
            "requested_horizon": self.spec.horizon,
            "update_steps": m.update_steps.tolist() if m.update_steps is not None else None,
            "seed": self.settings.seed,
            "step_sizes": _numbers(m.step_sizes),
            "points": _numbers(m.points),
            "errors": _numbers(m.errors),
            "reference_error": _numbers(m.reference_error),
            "floor": _numbers(m.floor),
            "used_in_fit": fit.used.tolist() if fit.used is not None else None,
            "series": self.series.to_dict() if self.series is not None else None,
            "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_dict(cls, entry: dict, settings: Settings | None = None) -> CheckResult:
        """The check back from ``to_dict``'s plain data (null becomes NaN), so that ``from_dict(d).to_dict()
        == d``; ``settings`` are the run's (default: those of the entry, tolerance and seed)."""
        def known(kind, values: dict) -> dict:  # tolerate fields added to either side later
            names = {f.name for f in fields(kind)}
            return {k: v for k, v in values.items() if k in names}

        def array(values) -> np.ndarray:
            values = np.array(values, dtype=object)
            return np.where(values == None, np.nan, values).astype(np.float64)  # noqa: E711

        try:
            settings = settings or Settings(tolerance=entry["tolerance"], seed=entry["seed"])
            spec = CheckSpec(**known(CheckSpec, {**entry, "scheme": Scheme(**entry["scheme"]),
                                                 "flow": Flow.from_dict(entry["flow"]),
                                                 "horizon": entry.get("requested_horizon")}))
            fit = Fit(entry["fitted_slope"], entry["slope_stderr"], Status(entry["status"]), list(entry["reasons"]),
                      tuple(entry["fit_range"]) if entry["fit_range"] else None,
                      None if entry["used_in_fit"] is None else np.array(entry["used_in_fit"], dtype=bool))
            measured = {key: array(entry[key]) for key in ("step_sizes", "points", "errors", "reference_error",
                                                           "floor")}
            extra = {k: entry[k] for k in ("horizon",) if k in entry}
            if entry.get("update_steps") is not None:
                extra["update_steps"] = np.array(entry["update_steps"])
            measurement = Measurement(**known(Measurement, {**measured, "reference": entry["reference"], **extra}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"not a harness check result ({type(exc).__name__}: {exc})") from exc
        series = Series.from_dict(entry["series"]) if entry.get("series") else None
        return cls(spec, fit, measurement, settings, entry.get("seconds", 0.0), series=series)


def _number(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _numbers(array: np.ndarray) -> list:
    """Nested lists of floats, with null for NaN and inf (JSON has no such numbers)."""
    return [_numbers(row) if np.ndim(row) else _number(float(row)) for row in np.asarray(array)]


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


def plan_check(game: Game, spec: CheckSpec, settings: Settings) -> Plan:
    """The plan of a one-step or multistep check (the guards before measuring run here)."""
    scale = jacobian_norm(game, spec.scheme, at_step=spec.at_step)
    step_sizes, points = measurement_grid(game, spec, settings, scale)
    affine, notes = guards.before_measuring(game, spec.scheme, spec.flow, points, step_sizes, settings.seed)
    points, equilibria = guards.without_equilibria(game, points)
    expected = spec.natural_slope if spec.expected_slope is None else spec.expected_slope
    return Plan(step_sizes, points, scale, expected, affine, tuple(equilibria + notes))


def _check_params_named(scheme: Scheme, flow: Flow) -> None:
    """UsageError when a ``--param`` value is named by neither the user's rule nor the user's flow."""
    if not scheme.user_params:
        return
    users = [u for u in ((scheme.user_rule if scheme.name == "user" else None), flow.user) if u is not None]
    if any(user.function is None for user in users):
        return  # read back from a results document: checked when it ran
    accepted = {name for user in users for name in user.parameters}
    unknown = [name for name, _ in scheme.user_params if name not in accepted]
    if unknown:
        takers = ", ".join(f"{u.name}: {', '.join(u.parameters) or 'none'}" for u in users) or "no user rule or flow"
        raise UsageError(f"--param {', '.join(unknown)}: neither the rule nor the flow names it as a keyword parameter "
                         f"(their parameters: {takers})")


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


def user_functions(spec: CheckSpec) -> list:
    """The user's flow and rule of a check (harness.model.user.UserFunction), those it has."""
    found = [spec.flow.user] if spec.flow.user is not None else []
    if spec.scheme.name == "user":
        with contextlib.suppress(HarnessError):  # a rule that cannot be used says so when the check runs
            found.append(spec.scheme.user_rule)
    return found


def run_two_step_check(game: Game, spec: CheckSpec, settings: Settings) -> CheckResult:
    """Measure and judge a second-order ODE against a two-step method by its two-step residual
    (harness.measure.two_step); the step sizes are the time steps tau = sqrt(s), and no error series is computed."""
    start = time.perf_counter()
    taus, points = measurement_grid(game, spec, settings)
    guards.check_points(game, points, settings.seed)
    guards.check_pure(game, points)
    guards.check_user_functions(game, spec.scheme, spec.flow, points, taus ** 2)
    points, notes = guards.without_equilibria(game, points)
    measurement = two_step.measure_two_step_residual(game, spec.scheme, spec.flow, taus, points)
    scale = math.sqrt(jacobian_norm(game, spec.scheme))
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
    """(game, the rule's automatic kernel structure) -> the highest series order its checks need: the rule's
    coefficients are computed once at that order for all of them (harness.verdict.series)."""
    orders: dict[tuple, int] = {}
    for spec in specs:
        if not (spec.scheme.lifted or spec.scheme.two_step):
            key = series_group(spec, games[spec.game])
            orders[key] = max(orders.get(key, 0), rule_orders_needed(spec.flow, spec.scheme))
    return orders


def series_group(spec: CheckSpec, game: Game) -> tuple:
    return spec.game, spec.scheme.kernel_structure(game, True)


@float64
def run_checks(
    specs: Iterable[CheckSpec],
    games: dict[str, Game],
    settings: Settings = Settings(),
    progress: Callable[[int, int, CheckResult], None] | None = None,
    jobs: int = 1,
) -> list[CheckResult]:
    """Run checks, calling ``progress(done, total, result)`` after each, in order; the user's functions are
    checked first (harness.verdict.guards.check_user_functions); the bea checks share kernels
    (``shared_bea_orders``). With ``jobs`` > 1 the checks of different kernels run in that many
    threads (harness.base.parallel: one kernel compiles while the next is traced); the results are those of a
    serial run."""
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

    def one(spec: CheckSpec) -> CheckResult:
        game = games[spec.game]
        return run_check(game, spec, settings, orders.get(kernel_group(spec, game)),
                         series.get(series_group(spec, game)), refresh=False)

    results = []
    with contextlib.closing(ordered_map(one, specs, jobs, lambda s: kernel_group(s, games[s.game]))) as ordered:
        for index, result in enumerate(ordered, start=1):
            results.append(result)
            if progress:
                progress(index, len(specs), result)
    return results


def results_document(results: list[CheckResult], settings: Settings, **context) -> dict:
    """The JSON contract: ``schema_version``, ``settings``, ``summary`` and ``results``."""
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.fit.status] = statuses.get(result.fit.status, 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        **context,
        "settings": asdict(settings),
        "summary": {
            "checks": len(results),
            "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results),
            "statuses": statuses,
        },
        "results": [r.to_dict() for r in results],
    }


# --- the check matrix file -------------------------------------------------------------------------

_TABLE_KEYS = {"games", "exclude", "scheme", "first", "rates", "substeps", "beta", "flows", "expected_slope",
               "expected_status", "reason", "measure", "horizon", "cancel", "strengthen", "convention", "optimizer",
               "optimizer2", "regime", "step", "mu"} | {name for name in OPTIONS if name not in FIELD_OPTIONS}


def load_matrix(
    path: str | Path | None = None, games: dict[str, Game] | None = None
) -> tuple[Settings, list[CheckSpec]]:
    """Settings and the expanded list of checks of a matrix file (a path, or a name in BUNDLED_MATRICES;
    default: the default matrix) over ``games`` (name -> Game; the catalog when not given)."""
    from harness.model.catalog import catalog

    path = BUNDLED_MATRICES.get(str(path), Path(path)) if path else DEFAULT_MATRIX
    if path == LITERATURE_MATRIX and not path.is_file():
        raise MatrixError("the literature catalog is the repository's literature/ folder, which this installation "
                          "does not have: run from a clone (pip install -e .)")
    try:
        text = path.read_text()
    except OSError as exc:
        raise MatrixError(f"check matrix {str(path)!r} cannot be read: {exc.strerror}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"check matrix {path}: {exc}") from exc
    catalog_games = catalog()
    games = catalog_games if games is None else games
    known = set(catalog_games) | set(games)
    table_lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[check]]"]
    unknown = set(document) - {"settings", "check"}
    if unknown:
        raise MatrixError(f"check matrix {path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    if not isinstance(document.get("settings", {}), dict):
        raise MatrixError(f"check matrix {path}: `settings` must be a table, written [settings], got "
                          f"{document['settings']!r}")
    checks = document.get("check", [])
    if not (isinstance(checks, list) and all(isinstance(table, dict) for table in checks)):
        shown = "a single table, written [check]" if isinstance(checks, dict) else repr(checks)
        raise MatrixError(f"check matrix {path}: `check` must be an array of tables, each written [[check]] (double "
                          f"brackets), got {shown}")
    try:
        settings = Settings(**document.get("settings", {}))
    except TypeError as exc:
        raise MatrixError(f"check matrix {path} [settings]: {exc}") from exc
    except HarnessError as exc:
        raise MatrixError(f"check matrix {path} [settings]: {exc}") from exc
    specs: list[CheckSpec] = []
    for index, table in enumerate(checks):
        where = f"{path}:{table_lines[index] if index < len(table_lines) else '?'}"
        try:
            specs.extend(_expand(table, games, known, path.parent))
        except HarnessError as exc:
            raise MatrixError(f"check matrix {where}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise MatrixError(f"check matrix {where}: malformed entry ({exc})") from exc
    return settings, specs


def _expand(table: dict, games: dict[str, Game], known: set[str], base: Path) -> list[CheckSpec]:
    """The checks of one [[check]] table over ``games``; names in the table must be ``known`` games; the
    paths of user rules and flows (file.py:NAME) are relative to the folder ``base`` of the matrix file."""
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        settings = sorted(unknown & {f.name for f in fields(Settings)})
        hint = f" ({', '.join(settings)}: measurement settings, which go in [settings])" if settings else ""
        raise MatrixError(f"unknown key(s) {', '.join(sorted(unknown))}{hint}")
    if "scheme" not in table or "flows" not in table:
        raise MatrixError("each [[check]] needs `scheme` and `flows`")
    _check_values(table, known)
    selector = table.get("games", "*")
    if selector in ("*", "two-player", "single-objective"):
        names = [n for n, g in games.items()
                 if (selector == "*" or g.kind == selector) and not g.metadata.get("large")]
    elif isinstance(selector, list):
        missing = [n for n in selector if n not in known]
        if missing:
            raise MatrixError(f"unknown game(s) {', '.join(missing)}")
        names = [n for n in selector if n in games]
    else:
        raise MatrixError(f"`games` must be '*', 'two-player', 'single-objective' or a list, got {selector!r}")
    names = [n for n in names if n not in set(table.get("exclude", []))]
    single = [n for n in names if games[n].kind == "single-objective"]
    if "optimizer2" in table and single:
        raise MatrixError(f"`optimizer2` sets player 2's optimizer, but {', '.join(single)} "
                          f"{'is a single-objective game' if len(single) == 1 else 'are single-objective games'} (one "
                          "player, set by `optimizer`): select two-player games (games = \"two-player\") or leave out "
                          "optimizer2")
    flows = [Flow.of(name, base) for name in table["flows"]]
    rates = table.get("rates", [[1, 1]])
    substeps = table.get("substeps", [[1, 1]])
    for key, pairs, kind, example in (("rates", rates, _real, "[[1, 1], [1, 0.3]]"),
                                      ("substeps", substeps, _integer, "[[1, 1], [2, 1]]")):
        if not (isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 and all(map(kind, p))
                                                for p in pairs)):
            what = "numbers" if key == "rates" else "integers"
            raise MatrixError(f"`{key}` must be a list of pairs of {what} such as {example}, got {pairs!r}")
    scheme_name = table["scheme"]
    choices = [[(key, value) for value in _listed(table[key])] for key in ("optimizer", "optimizer2") if key in table]
    fixed = {key: table[key] for key in ("regime", "step", "mu") if key in table}
    specs = []
    for name, (lr1, lr2), (m, k), optimizers, flow in itertools.product(names, rates, substeps,
                                                                        itertools.product(*choices), flows):
        memory = {**fixed, **dict(optimizers)}
        if scheme_name == "alternating":
            scheme = Scheme("alternating", float(lr1), float(lr2), m, k, table.get("first", "phi"), **memory)
        elif is_file_spec(scheme_name):
            scheme = Scheme("user", float(lr1), float(lr2), m, k, table.get("first", "phi"),
                            float(table.get("beta", 0.0)), resolve(scheme_name, base))
        else:
            if (m, k) != (1, 1) or "first" in table:
                raise MatrixError(f"substeps and first apply to alternating updates only, not {scheme_name!r}")
            regulariser = {key: table[key] for key in ("cancel", "strengthen", "convention") if key in table}
            declared = {key: table[key] for key in OPTIONS if key in table and key not in FIELD_OPTIONS}
            scheme = Scheme(scheme_name, float(lr1), float(lr2), beta=float(table.get("beta", 0.0)), **regulariser,
                            **memory, options=declared)
        expected = table.get("expected_slope")
        specs.append(CheckSpec(name, scheme, flow, None if expected is None else float(expected),
                               table.get("expected_status", Status.PASS), table.get("reason", ""),
                               table.get("measure", "local"),
                               None if table.get("horizon") is None else float(table["horizon"])))
    return specs


_STRING_KEYS = ("scheme", "first", "reason", "expected_status", "measure", "convention", "regime")
_NUMBER_KEYS = ("beta", "cancel", "strengthen", "mu", "horizon", "expected_slope")


def _check_values(table: dict, known: set[str]) -> None:
    """MatrixError naming the key of a [[check]] table whose value has the wrong type: a string where a list
    belongs (it would be read character by character), true or false where a number belongs (TOML's booleans
    are not numbers here), an unknown game in ``exclude``."""
    for key in _STRING_KEYS:
        if key in table and not isinstance(table[key], str):
            raise MatrixError(f"`{key}` must be a string, got {table[key]!r}")
    for key in _NUMBER_KEYS:
        if key in table and not _real(table[key]):
            raise MatrixError(f"`{key}` must be a number, got {table[key]!r}")
    if "expected_slope" in table and not (math.isfinite(table["expected_slope"]) and table["expected_slope"] > 0):
        raise MatrixError(f"`expected_slope` must be a finite positive number, got {table['expected_slope']!r}")
    if "step" in table and not _integer(table["step"]):
        raise MatrixError(f"`step` must be an integer, got {table['step']!r}")
    for key, example in (("flows", '["gradient", "modified"]'), ("exclude", '["dirac_gan"]')):
        if key in table and not (isinstance(table[key], list) and all(isinstance(v, str) for v in table[key])):
            raise MatrixError(f"`{key}` must be a list of names such as {example}, got {table[key]!r}")
    if isinstance(table.get("games"), list) and not all(isinstance(v, str) for v in table["games"]):
        raise MatrixError(f"`games` must be a list of game names, got {table['games']!r}")
    missing = [n for n in table.get("exclude", []) if n not in known]
    if missing:
        raise MatrixError(f"unknown game(s) {', '.join(missing)} in `exclude`")
    for key in ("optimizer", "optimizer2"):
        if key in table and not all(isinstance(v, (str, dict)) for v in _listed(table[key])):
            raise MatrixError(f"`{key}` must be an optimizer such as \"adam(beta1=0.9)\" or a list of them, got "
                              f"{table[key]!r}")


def _listed(value) -> list:
    """A matrix value that may be given once or as a list of values to expand over."""
    return value if isinstance(value, list) else [value]


def with_settings(settings: Settings, **changes) -> Settings:
    """A copy of ``settings`` with the non-None ``changes`` applied."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
