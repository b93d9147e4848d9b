"""A check's description and its result: ``Settings`` (how to measure), ``CheckSpec`` (game, update rule, flow,
expectation), ``CheckResult`` (the measurement, the fit and the error series) and the results document
(``results_document``), the JSON contract of ``harness check --json``."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from harness.base.errors import FlowError, ResultsError, UsageError
from harness.base.status import Status
from harness.flows import Flow
from harness.measure import Measurement
from harness.rules import RULES
from harness.rules.schemes import Scheme
from harness.verdict.fit import DEFAULT_TOLERANCE, MAX_DECADES, MIN_DECADES, Fit
from harness.verdict.series import Series

SCHEMA_VERSION = 1
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
                            f"({', '.join(name for name, rule in RULES.items() if rule.two_step)}), not "
                            f"{self.scheme.name}")
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
        except against ``modified-at-step``, the flow of that start. A second-order ODE: ``claimed_slope``."""
        if self.flow.second_order:
            return self.claimed_slope
        slope = float(max(self.flow.order + 2, self.scheme.method_order + 1))
        limit = self.scheme.steady_slope
        if limit is not None and self.flow.name != "modified-at-step":
            slope = min(slope, limit)
        return slope - (self.measure == "global")

    @property
    def claimed_slope(self) -> float:
        """The local-error slope the flow claims against the rule it models: p + 2 for a flow of order p; for
        the two-step residual of a second-order ODE of resolution p in the time step tau, p + q + 1 with s = tau^q
        (q = 2 when tau = sqrt(s), harness.rules.base.Rule.time_power)."""
        if self.flow.second_order:
            return float(self.flow.order + RULES[self.scheme.name].time_power + 1)
        return float(self.flow.order + 2)

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


def with_settings(settings: Settings, **changes) -> Settings:
    """A copy of ``settings`` with the non-None ``changes`` applied."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
