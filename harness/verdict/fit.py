"""Order fit: the slope of log e against log h, with the traps of order tests detected and named.

The slope is a least-squares fit shared by all initial points, each with its own intercept:
    log e[p, j] = s log h[j] + c[p] + noise,
using only points that are finite, above the round-off floor and whose reference error is at most 1%
of the error they measure. If the slope still changes across the range (the halves of the range
disagree by more than the tolerance), the largest step sizes are dropped as pre-asymptotic while at
least 5 step sizes over 0.75 decade remain.

Statuses (harness.base.status.Status): PASS, FAIL (clean fit, wrong slope), EXACT (every error at round-off),
FLOOR-LIMITED, REFERENCE-LIMITED (too few usable points, and why), PRE-ASYMPTOTIC (no range with a stable slope),
DIVERGED (non-finite errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.base.status import Status
from harness.measure import Measurement

REFERENCE_SHARE = 0.01
MIN_STEP_SIZES = 4
MIN_ASYMPTOTIC_STEP_SIZES = 5
MIN_DECADES = 0.5
MAX_DECADES = 6.0
"""The widest step-size range a measurement accepts: at the default h_max (h |dF/dz| = 0.1) six decades reach
h |dF/dz| = 1e-7, where even an O(h^2) local error (relative 1e-14) is under the round-off floor; wider ranges
only add step sizes at the floor. The narrowest is MIN_DECADES, the least span a slope is fitted over."""
DEFAULT_TOLERANCE = 0.15


@dataclass
class Fit:
    slope: float | None
    stderr: float | None
    status: Status
    reasons: list[str] = field(default_factory=list)
    fit_range: tuple[float, float] | None = None
    used: np.ndarray | None = None  # bool [points, step sizes]: which errors entered the fit


def pooled_slope(log_h: np.ndarray, log_e: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Common slope and its standard error for rows of (log h, log e) with per-row intercepts."""
    sxx = sxy = 0.0
    rows = []
    for j in range(log_e.shape[0]):
        use = mask[j]
        if use.sum() < 2:
            continue
        x, y = log_h[use], log_e[j, use]
        x_c, y_c = x - x.mean(), y - y.mean()
        sxx += float(x_c @ x_c)
        sxy += float(x_c @ y_c)
        rows.append((x_c, y_c))
    slope = sxy / sxx
    residual = sum(float(((y_c - slope * x_c) ** 2).sum()) for x_c, y_c in rows)
    dof = sum(len(x_c) for x_c, _ in rows) - len(rows) - 1
    stderr = float(np.sqrt(residual / dof / sxx)) if dof > 0 else float("nan")
    return slope, stderr


def _span_decades(h: np.ndarray, columns: np.ndarray) -> float:
    chosen = h[columns]
    return float(np.log10(chosen.max() / chosen.min())) if chosen.size else 0.0


def _where_non_finite(h: np.ndarray, finite: np.ndarray) -> str:
    """Where the non-finite errors are, by step size: the largest ones (a divergence), the smallest ones, or
    the step sizes listed."""
    bad = (~finite).any(axis=0)
    if np.array_equal(bad, h >= h[bad].min()):
        return f"diverging at h >= {h[bad].min():.3g}"
    if np.array_equal(bad, h <= h[bad].max()):
        return f"at the smallest step sizes, h <= {h[bad].max():.3g}, not at the largest: no divergence"
    listed = np.sort(h[bad])
    shown = ", ".join(f"{x:.3g}" for x in listed[:6]) + (", …" if listed.size > 6 else "")
    return f"at h = {shown}"


EXACT_MIN_STEP_SCALE = 0.05


def fit_order(
    measurement: Measurement, expected_slope: float, tolerance: float = DEFAULT_TOLERANCE,
    step_scale: float | None = None,
) -> Fit:
    """Fit the order of ``measurement`` and compare it with ``expected_slope`` (see module docstring).

    ``step_scale`` is h_max |dF/dz|: when every error is at the round-off floor, the flow is called EXACT
    only if the steps were not tiny (step_scale >= 0.05, or unknown); otherwise it is FLOOR-LIMITED."""
    h = measurement.step_sizes
    e, ref, floor = measurement.errors, measurement.reference_error, measurement.floor
    reasons: list[str] = []

    finite = np.isfinite(e) & np.isfinite(ref)
    if not finite.any():
        return Fit(None, None, Status.DIVERGED, ["every measured error is NaN or inf: a flow or the update diverges"])
    if not finite.all():
        reasons.append(f"{int((~finite).sum())} of {e.size} errors are NaN or inf ({_where_non_finite(h, finite)}); "
                       "dropped")
    above_floor = finite & (e >= floor) & (e > 0)  # an exact zero is at any floor (and has no logarithm)
    if not above_floor.any() and step_scale is not None and step_scale < EXACT_MIN_STEP_SCALE:
        return Fit(None, None, Status.FLOOR_LIMITED, reasons + [
            f"every error is at the round-off floor with h |dF/dz| <= {step_scale:.2g}; try larger step sizes"
        ], used=np.zeros_like(finite))
    if not above_floor.any():
        return Fit(None, None, Status.EXACT, reasons + [
            f"every error is at the round-off floor (max {np.nanmax(np.where(finite, e, np.nan)):.3g}): "
            "the flow matches the update exactly; no slope is measured, so no order is confirmed (met where "
            "status EXACT is expected: --expected-status EXACT, expected_status=\"EXACT\")"
        ])
    trusted = above_floor & (ref <= REFERENCE_SHARE * e)
    n_floor = int((finite & ~above_floor).sum())
    n_reference = int((above_floor & ~trusted).sum())
    if n_floor:
        reasons.append(f"{n_floor} errors at the round-off floor excluded")
    if n_reference:
        reasons.append(f"{n_reference} errors dropped: reference error above 1% of the error")

    columns = trusted.sum(axis=0) > 0
    if columns.sum() < MIN_STEP_SIZES or _span_decades(h, columns) < MIN_DECADES:
        status = Status.REFERENCE_LIMITED if n_reference > n_floor else Status.FLOOR_LIMITED
        hint = "larger step sizes" if status == Status.FLOOR_LIMITED else "a more accurate reference"
        return Fit(None, None, status, reasons + [
            f"only {int(columns.sum())} step sizes have usable errors (need {MIN_STEP_SIZES} over "
            f"{MIN_DECADES} decade); try {hint}"
        ], used=trusted)

    log_h, log_e = np.log(h), np.log(np.where(trusted, e, 1.0))
    usable = trusted.copy()
    while True:
        cols = np.flatnonzero(usable.any(axis=0))
        half = len(cols) // 2
        low, high = usable.copy(), usable.copy()
        low[:, cols[half + len(cols) % 2:]] = False
        high[:, cols[:half]] = False
        slope_low = pooled_slope(log_h, log_e, low)[0]
        slope_high = pooled_slope(log_h, log_e, high)[0]
        if abs(slope_low - slope_high) <= tolerance:
            break
        if len(cols) - 1 < MIN_ASYMPTOTIC_STEP_SIZES or _span_decades(h, cols[:-1]) < 0.75:
            slope, stderr = pooled_slope(log_h, log_e, usable)
            return Fit(slope, stderr, Status.PRE_ASYMPTOTIC, reasons + [
                f"the slope still changes across the range ({slope_low:.2f} on the small half, "
                f"{slope_high:.2f} on the large half); step sizes below h = {h[cols[0]]:.3g} should be asymptotic: try "
                f"--h-max {h[cols[0]]:.3g} (h_max= from Python)"
            ], (float(h[cols[0]]), float(h[cols[-1]])), usable)
        usable[:, cols[-1]] = False
    dropped = int(trusted.sum() - usable.sum())
    cols = np.flatnonzero(usable.any(axis=0))
    if dropped:
        reasons.append(f"step sizes above {h[cols[-1]]:.3g} dropped as pre-asymptotic")
    slope, stderr = pooled_slope(log_h, log_e, usable)
    status = Status.PASS if abs(slope - expected_slope) <= tolerance else Status.FAIL
    if status == Status.FAIL:
        reasons.append(f"slope {slope:.3f} is outside {expected_slope:g} ± {tolerance:g}")
    return Fit(slope, stderr, status, reasons, (float(h[cols[0]]), float(h[cols[-1]])), usable)
