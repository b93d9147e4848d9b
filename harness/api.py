"""The Python API: what the command line does, as functions that return plain data (for notebooks).

Every function accepts a game as a ``harness.Game`` or as a spec string (a catalog name or
``path/to/file.py:NAME``), an update rule as a ``Scheme`` or its name, a flow as a ``Flow`` or its name.
Results are ``harness.checks.CheckResult`` dataclasses (``result.fit.slope``, ``result.fit.status``,
``result.measurement.errors`` as numpy arrays…) whose ``to_dict()`` is one entry of the JSON contract of
``harness check --json``; ``document(results)`` is the whole contract.

==============================  ==============================================
command line                    Python
==============================  ==============================================
``harness list``                ``harness.list_games()``
``harness check --game G …``    ``harness.check(G, scheme, flow, …)``
``harness check --all``         ``harness.check_all()``
``harness check … --json P``    ``harness.document(results)`` (then json.dump)
``harness report --out D``      ``harness.make_report(D)``
``harness new-game NAME``       ``harness.new_game(NAME)``
==============================  ==============================================

The heavy modules (measurement, integration, figures) are imported when a function needs them, so
``import harness`` stays as light as before.

>>> import harness
>>> result = harness.check("dirac_gan", "alternating", "modified", lr1=0.4, lr2=1.5, points=2)
>>> result.fit.status, abs(result.fit.slope - 3) < 0.15
('PASS', True)
>>> entry = result.to_dict()
>>> entry["flow"], entry["scheme"]["name"], len(entry["errors"]), len(entry["step_sizes"])
({'name': 'modified', 'order': 1}, 'alternating', 2, 10)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from harness.base.cache_config import enable_compilation_cache
from harness.base.errors import MatrixError, UsageError
from harness.base.precision import float64
from harness.base.status import Status
from harness.model.game import Game

if TYPE_CHECKING:
    from harness.checks import CheckResult, Settings
    from harness.flows import Flow
    from harness.rules.schemes import Scheme
    from harness.verdict.series import Series

__all__ = [
    "GameInfo",
    "WorstPoint",
    "check",
    "check_all",
    "diagnose",
    "document",
    "explain",
    "list_games",
    "load",
    "make_report",
    "make_settings",
    "new_game",
    "worst_point",
]


P = ParamSpec("P")
R = TypeVar("R")


def _entry(function: Callable[P, R]) -> Callable[P, R]:
    """An entry point: JAX's persistent compilation cache turned on (``harness.enable_compilation_cache``, once
    per process), then ``function`` run in float64 (harness.base.precision)."""
    scoped = float64(function)

    @functools.wraps(function)
    def entry(*args: P.args, **kwargs: P.kwargs) -> R:
        enable_compilation_cache()
        return scoped(*args, **kwargs)

    return entry


@_entry
def derive(rule: Any = "simultaneous", order: int = 2, **settings: Any) -> Any:
    """The modified field of a one-step update rule through h^order in the tree basis (``harness derive``):
    a ``harness.verdict.derivation.Derivation`` with ``.terms``, ``.text()``, ``.latex()``, ``.to_dict()``,
    ``.to_flow()``; ``players``, ``terms`` and the rule's settings (lr1, lr2, m, k, first, ...) as keywords."""
    from harness.verdict.derivation import derive as derive_rule

    return derive_rule(rule, order, **settings)


# --- games ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameInfo:
    """One catalog entry, as ``harness list`` shows it.

    >>> info = next(g for g in list_games() if g.name == "dirac_gan")
    >>> info.to_dict()["kind"], info.to_dict()["dims"]
    ('two-player', [1, 1])
    """

    name: str
    kind: str
    dims: tuple[int, int]
    description: str

    def to_dict(self) -> dict:
        """The entry of ``harness list --json``: name, kind, dims (a list) and description."""
        return {"name": self.name, "kind": self.kind, "dims": list(self.dims), "description": self.description}


def list_games() -> list[GameInfo]:
    """The catalog (every ``harness.Game`` in the ``games`` package), sorted by name.

    >>> names = [info.name for info in list_games()]
    >>> "bilinear" in names and "rosenbrock" in names
    True
    """
    from harness.model.catalog import catalog

    return [GameInfo(g.name, g.kind, (int(g.dims[0]), int(g.dims[1])), g.description) for g in catalog().values()]


@_entry
def load(game: Game | str) -> Game:
    """A validated game from a ``Game`` or a spec (catalog name or ``path/to/file.py:NAME``).

    Raises ``harness.GameError`` (a ``ValueError``) with one line that says what is wrong.

    >>> load("bilinear").dims
    (3, 2)
    >>> load("no_such_game")
    Traceback (most recent call last):
    ...
    harness.base.errors.GameError: unknown game 'no_such_game'; `harness list` shows the catalog, or give path/to/...
    """
    from harness.model.catalog import load as load_game

    return load_game(game)


# --- checks ---------------------------------------------------------------------------------------


def make_settings(base: Settings | None = None, **changes: Any) -> Settings:
    """Measurement settings: ``base`` (default: the defaults of ``harness check``) with the non-None
    ``changes`` applied (``tolerance``, ``points``, ``step_sizes``, ``decades``, ``seed``, ``h_max``).

    >>> make_settings(points=2).points, make_settings().tolerance
    (2, 0.15)
    """
    from harness.checks import Settings, with_settings

    unknown = set(changes) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise UsageError(f"unknown measurement setting(s) {', '.join(sorted(unknown))}")
    return with_settings(base if base is not None else Settings(), **changes)


@_entry
def check(
    game: Game | str,
    scheme: Scheme | str | Callable = "simultaneous",
    flow: Flow | str | Callable = "modified",
    *,
    lr1: float | None = None,
    lr2: float | None = None,
    m: int | None = None,
    k: int | None = None,
    first: str | None = None,
    expected_slope: float | None = None,
    expected_status: str = Status.PASS,
    reason: str = "",
    settings: Settings | None = None,
    tolerance: float | None = None,
    points: int | None = None,
    step_sizes: int | None = None,
    decades: float | None = None,
    seed: int | None = None,
    h_max: float | None = None,
    budget: bool = True,
    terms: Iterable[Callable | str] = (),
    **scheme_params: Any,
) -> CheckResult:
    """Measure and judge one check, like ``harness check --game GAME --scheme S --flow F``.

    ``scheme``: a ``Scheme``, a built-in rule's name, or your own rule as ``path/to/file.py:NAME`` or a
    function; ``flow``: a ``Flow``, a built-in flow's name, or your own flow as ``path/to/file.py:NAME`` or a
    function declared with ``@harness.flow(order=p)`` (both in either notation of ``harness.model.user``; relative
    paths from the working directory). ``lr1`` (α), ``lr2`` (λ), ``m``, ``k``, ``first`` and any other keyword
    (``beta``…) are the update rule's parameters (they override those of a ``Scheme`` given as ``scheme``).
    ``expected_slope`` defaults to max(p + 2, q + 1) for a flow of order p and a rule of order q. The
    measurement settings default to those of ``harness check``; give ``settings`` and/or single values
    (``points=2`` is a quick look). Sizes that cannot finish (``m + k``, ``points``, a cold start's ``step``…)
    raise UsageError before anything is compiled, naming the estimate and the limit (harness.checks.budget);
    ``budget=False`` runs them anyway. ``terms``: your own terms for the error series' diagnosis (functions in
    a user-flow notation returning a field), added to the tree basis (``with_terms``).

    Returns a ``CheckResult``: ``result.passed`` (the status met ``expected_status``), ``result.fit``
    (``slope``, ``stderr``, ``status``, ``reasons``, ``fit_range``, ``used``), ``result.measurement``
    (``step_sizes``, ``points``, ``errors``, ``reference_error``, ``floor`` as numpy arrays) and
    ``result.to_dict()`` (the JSON contract's entry). It never raises for a failed check.

    The official-code convention with α ≠ λ is only second-order accurate:

    >>> result = check("bilinear", "simultaneous", "official", lr2=0.3, points=2)
    >>> result.passed, result.fit.status, abs(result.fit.slope - 2) < 0.15
    (False, 'FAIL', True)
    >>> check("bilinear", "simultaneous", "official", lr2=0.3, expected_slope=2, points=2).passed
    True

    Your own flow, here the first-order modified flow of simultaneous GD (IGR) in the joint notation:

    >>> import jax, harness
    >>> @harness.flow(order=1)
    ... def igr(V, z, h):
    ...     return V(z) - (h / 2) * jax.jvp(V, (z,), (V(z),))[1]
    >>> result = check("rosenbrock", "gd", igr, points=2)
    >>> result.passed, abs(result.fit.slope - 3) < 0.15, result.to_dict()["flow"]["name"]
    (True, True, 'igr')
    """
    from harness.checks import CheckSpec, run_check, user_functions
    from harness.flows import Flow
    from harness.model.identity import refresh
    from harness.rules.schemes import scheme_of

    the_game = load(game)  # validated: traced afresh if it changed since last seen (harness.model.identity)
    the_scheme = scheme_of(scheme, dict(lr1=lr1, lr2=lr2, m=m, k=k, first=first, **scheme_params))
    spec = CheckSpec(the_game.name, the_scheme, Flow.of(flow), expected_slope, expected_status, reason)
    measured = make_settings(settings, tolerance=tolerance, points=points, step_sizes=step_sizes,
                             decades=decades, seed=seed, h_max=h_max)
    refresh((), user_functions(spec))  # the game was, by load
    if budget:
        from harness.checks.budget import check_budget

        check_budget([spec], {the_game.name: the_game}, measured, "budget=False")
    return with_terms(run_check(the_game, spec, measured, refresh=False), the_game, terms)


def with_terms(result: CheckResult, game: Game, terms: Iterable[Callable | str]) -> CheckResult:
    """``result`` with its error series recomputed with the user's ``terms`` in the basis (functions in a
    user-flow notation returning a field, or ``file.py:NAME``), where its flow departs from the rule."""
    terms = tuple(terms)
    if not terms or result.series is None or result.series.differing_order is None:
        return result
    from harness.checks import series_of

    result.series = series_of(result, game, terms)
    return result


@_entry
def check_all(
    games: Iterable[Game | str] | None = None,
    matrix: str | Path | None = None,
    *,
    progress: Callable[[int, int, CheckResult], None] | None = None,
    jobs: int = 1,
    budget: bool = True,
    **changes: Any,
) -> list[CheckResult]:
    """Run a check matrix, like ``harness check --all [--game G …] [--matrix PATH] [--jobs N]``.

    ``games``: the games to run it on (default: the catalog); the matrix's selectors are expanded over the
    catalog and these games together, then restricted to these games, so an entry that names catalog games
    simply selects none of yours. ``matrix``: a matrix file (default: the bundled
    ``harness/checks/check_matrix.toml``); ``changes``: measurement settings that override the matrix's
    ``[settings]`` (``points=2``…); ``progress(done, total, result)`` is called after each check; ``jobs``:
    threads building and running kernels at once (harness.base.parallel; the numbers do not depend on it). The
    results are in matrix order.

    >>> import pathlib, tempfile
    >>> matrix = pathlib.Path(tempfile.mkdtemp()) / "matrix.toml"
    >>> _ = matrix.write_text('''
    ... [[check]]
    ... games = ["rosenbrock", "quadratic_objective"]
    ... scheme = "gd"
    ... flows = ["gradient", "igr"]
    ... ''')
    >>> results = check_all(["quadratic_objective"], matrix, points=1)
    >>> [(r.spec.game, r.spec.flow.name, r.passed) for r in results]
    [('quadratic_objective', 'gradient', True), ('quadratic_objective', 'igr', True)]
    """
    from harness.checks import load_matrix, run_checks
    from harness.model.catalog import catalog, chosen_games, validate_used

    chosen = chosen_games(games)
    base, specs = load_matrix(matrix, {**catalog(), **chosen})
    specs = [spec for spec in specs if spec.game in chosen]
    if not specs:
        raise MatrixError("the check matrix selects no checks for these games")
    validate_used(specs, chosen)
    settings = make_settings(base, **changes)
    if budget:  # as harness.check, with what changed traced afresh first (run_checks does it too)
        from harness.checks import user_functions
        from harness.checks.budget import check_budget
        from harness.model.identity import refresh

        refresh(chosen.values(), [user for spec in specs for user in user_functions(spec)])
        check_budget(specs, chosen, settings, "budget=False")
    return run_checks(specs, chosen, settings, progress, jobs)


def document(results: list[CheckResult], **context: Any) -> dict:
    """The JSON contract of ``harness check --json`` for ``results``: ``schema_version``, ``settings``
    (those of the first result), ``summary`` and ``results`` (``CheckResult.to_dict`` entries); extra
    keyword arguments become top-level fields.

    >>> import json
    >>> doc = document([check("dirac_gan", flow="gradient", points=2)])
    >>> doc["schema_version"], doc["summary"]["checks"], doc["results"][0]["flow"]["name"]
    (1, 1, 'gradient')
    >>> json.loads(json.dumps(doc)) == doc
    True
    """
    from harness.checks import Settings, results_document

    base = results[0].settings if results else Settings()
    return results_document(list(results), base, **context)


@_entry
def make_report(
    out: str | Path = "reports/latest",
    games: Iterable[Game | str] | None = None,
    matrix: str | Path | None = None,
    *,
    progress: Callable[[int, int, CheckResult], None] | None = None,
    jobs: int = 1,
    **changes: Any,
) -> Path:
    """Run the check matrix and write a report, like ``harness report --out OUT [--jobs N]``; returns the path of
    ``index.md`` (next to it: the figures and ``results.json``). Arguments as for ``check_all``; ``jobs`` also
    draws the figures in that many processes. ``out`` must be new, empty or a report folder written before (its
    ``.harness-report`` marker): UsageError otherwise, before anything runs."""
    from harness.report import claim, write_report

    claim(Path(out))
    results = check_all(games, matrix, progress=progress, jobs=jobs, **changes)
    return write_report(results, results[0].settings, Path(out), jobs=jobs)


def new_game(name: str, path: str | Path | None = None) -> Path:
    """Write a commented game file that passes ``harness check`` as written, like
    ``harness new-game NAME [--path PATH]``; returns the file's path (see ``harness.model.scaffold``)."""
    from harness.model.scaffold import write_game

    return write_game(name, path)


# --- reading a result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorstPoint:
    """The initial point whose errors follow the expected slope least well, and where.

    ``index`` is the row of ``result.measurement.points`` (0 is the game's default state, the others are
    seeded points near it) and ``count`` the number of initial points.

    ``slope`` is that point's own least-squares slope over the errors that entered the fit (or, when
    the fit used none, over its finite errors above the round-off floor); ``local_slope`` is the slope
    between two consecutive such step sizes, ``between``, that deviates most from the expected slope.
    ``None`` where fewer than two errors of the point are usable.
    """

    index: int
    count: int
    z0: tuple[float, ...]
    slope: float | None
    local_slope: float | None
    between: tuple[float, float] | None
    usable: int
    non_finite: int

    def to_dict(self) -> dict:
        return {"index": self.index, "z0": list(self.z0), "slope": self.slope, "local_slope": self.local_slope,
                "between": list(self.between) if self.between else None, "usable": self.usable,
                "non_finite": self.non_finite}

    def describe(self, expected: float) -> str:
        """One line for people."""
        z0 = ", ".join(f"{v:.4g}" for v in self.z0[:6]) + (", …" if len(self.z0) > 6 else "")
        which = "the default state" if self.index == 0 else "a seeded point near it"
        text = f"initial point {self.index} of {self.count} ({which}), z0 = [{z0}]"
        if self.slope is None:
            text += f": only {self.usable} usable error(s)"
        else:
            text += f": its own slope {self.slope:.3f} ({self.slope - expected:+.3f} from {expected:g})"
        if self.local_slope is not None and self.between is not None:
            text += (f"; local slope {self.local_slope:.3f} between h = {self.between[0]:.3g} and "
                     f"{self.between[1]:.3g}")
        if self.non_finite:
            text += f"; {self.non_finite} error(s) NaN or inf"
        return text


@_entry
def worst_point(result: CheckResult) -> WorstPoint:
    """The ``WorstPoint`` of a check: among its initial points, the one whose own slope is farthest from
    the expected slope (the point with the most non-finite errors when no point has a slope).

    >>> result = check("dirac_gan", flow="gradient", points=3)
    >>> worst = worst_point(result)
    >>> worst.count, 0 <= worst.index < 3, abs(worst.slope - 2) < 0.3
    (3, True, True)
    """
    m, fit = result.measurement, result.fit
    expected = float(result.spec.expected_slope or 0.0)
    errors = np.asarray(m.errors, dtype=np.float64)
    finite = np.isfinite(errors)
    if fit.used is not None and np.asarray(fit.used).any():
        usable = np.asarray(fit.used, dtype=bool)
    else:
        usable = finite & (errors >= np.asarray(m.floor))
    log_h = np.log(np.asarray(m.step_sizes, dtype=np.float64))
    candidates = []
    for index in range(errors.shape[0]):
        use = usable[index]
        slope = local = between = None
        if use.sum() >= 2:
            x, y = log_h[use], np.log(errors[index, use])
            x_c = x - x.mean()
            slope = float(x_c @ (y - y.mean()) / (x_c @ x_c))
            locals_ = np.diff(y) / np.diff(x)
            worst = int(np.argmax(np.abs(locals_ - expected)))
            h_used = np.exp(x)
            local, between = float(locals_[worst]), (float(h_used[worst]), float(h_used[worst + 1]))
        candidates.append(WorstPoint(index, errors.shape[0], tuple(float(v) for v in m.points[index]), slope, local,
                                     between, int(use.sum()), int((~finite[index]).sum())))
    with_slope = [c for c in candidates if c.slope is not None]
    if with_slope:
        return max(with_slope, key=lambda c: abs(c.slope - expected) if c.slope is not None else -math.inf)
    return max(candidates, key=lambda c: (c.non_finite, -c.index))


@_entry
def diagnose(result: CheckResult) -> Series:
    """The error series of a check (harness.verdict.series): how far its flow agrees with the update rule's own
    modified field, the slope that predicts, and at the first differing order the named terms with their
    coefficients in the flow and in the rule. Computed with the check when it ran (``result.series``); for
    a result read back without one, computed now.

    >>> series = diagnose(check("dirac_gan", "simultaneous", "official", lr2=0.3, points=2))
    >>> series.agrees_through, series.predicted_slope
    (0, 2.0)
    >>> [(t.player, t.name, t.flow_expression, t.rule_expression) for t in series.terms if t.differs]
    [('phi', 'f_theta(g)', '-alpha**2/2', '-alpha*lambda/2'), ('theta', 'g_phi(f)', '-lambda**2/2', '-alpha*lambda/2')]
    """
    if result.series is not None:
        return result.series
    from harness.checks import series_of
    from harness.model.catalog import load_game

    return series_of(result, load_game(result.spec.game))


@_entry
def explain(result: CheckResult) -> str:
    """A check in a few lines for people: what was expected, what was measured and why (the failure
    message of the pytest plugin's ``assert_order``).

    >>> print(explain(check("bilinear", flow="official", lr2=0.3, points=2)))  # doctest: +ELLIPSIS
    order check failed: bilinear · simultaneous(lr1=1, lr2=0.3) · official
      expected: slope 3 ± 0.15 (status PASS); measured: slope 1.9... ± ..., status FAIL
      reasons: slope 1.9... is outside 3 ± 0.15
      fit range: h from ... to ... (20 of 20 errors used, reference expm)
      worst point: initial point ... of 2 (...), z0 = [...]: its own slope 1.9...
      hint: the slope is one order short: the flow's next-order correction is wrong or missing ...
    """
    spec, fit, m = result.spec, result.fit, result.measurement
    expected = float(spec.expected_slope or 0.0)
    verdict = "passed" if result.passed else "failed"
    measured = "no slope" if fit.slope is None else f"slope {fit.slope:.3f}"
    if fit.slope is not None and fit.stderr is not None and math.isfinite(fit.stderr):
        measured += f" ± {fit.stderr:.3f}"
    lines = [
        f"order check {verdict}: {spec.label}",
        f"  expected: slope {expected:g} ± {result.settings.tolerance:g} (status {spec.expected_status}); "
        f"measured: {measured}, status {fit.status}",
    ]
    if spec.reason:
        lines.append(f"  why this expectation: {spec.reason}")
    lines.append(f"  reasons: {'; '.join(fit.reasons) if fit.reasons else 'none'}")
    total = int(np.asarray(m.errors).size)
    used = int(np.asarray(fit.used).sum()) if fit.used is not None else 0
    if fit.fit_range:
        lines.append(f"  fit range: h from {fit.fit_range[0]:.3g} to {fit.fit_range[1]:.3g} ({used} of {total} "
                     f"errors used, reference {m.reference})")
    else:
        lines.append(f"  fit range: none ({used} of {total} errors usable, step sizes {float(m.step_sizes[0]):.3g} "
                     f"to {float(m.step_sizes[-1]):.3g}, reference {m.reference})")
    lines.append(f"  worst point: {worst_point(result).describe(expected)}")
    if result.series is not None:
        lines.extend(f"  {text}" for text in result.series.lines())
    if fit.status == Status.FAIL and fit.slope is not None:
        natural = spec.natural_slope
        if natural != expected and abs(fit.slope - natural) <= result.settings.tolerance:
            lines.append(f"  hint: the measured slope matches what a flow of order {spec.flow.order} and this rule "
                         f"give ({natural:g}); is the expectation {expected:g} right?")
        elif abs(fit.slope - (expected - 1)) <= result.settings.tolerance:
            lines.append("  hint: the slope is one order short: the flow's next-order correction is wrong or "
                         + ("missing (a second-order ODE of resolution p has a two-step residual O(tau^(p+3)), tau "
                            "= sqrt(s), or O(s^(p+2)) with time step s)" if spec.flow.second_order else
                            "missing (a flow of order p tracks the right update with local error O(h^(p+2)))"))
        elif abs(fit.slope - (expected + 1)) <= result.settings.tolerance:
            lines.append("  hint: the slope is one order higher than expected: the flow is more accurate than "
                         "claimed (expected_slope too low?)")
    return "\n".join(lines)
