import numpy as np

from harness.base.integrate import EPS
from harness.measure import FLOOR_FACTOR, Measurement
from harness.verdict.fit import fit_order

H = 0.1 * np.logspace(-1.5, 0, 10)


def measurement(errors, reference=None, scale=1.0):
    errors = np.atleast_2d(errors)
    reference = np.full_like(errors, 1e-18) if reference is None else np.atleast_2d(reference)
    floor = np.full_like(errors, FLOOR_FACTOR * EPS * scale)
    return Measurement(H, np.zeros((errors.shape[0], 2)), errors, reference, floor, "test")


def test_clean_power_law_passes_with_its_slope():
    fit = fit_order(measurement([2.0 * H**3, 5.0 * H**3]), 3.0)
    assert fit.status == "PASS"
    assert abs(fit.slope - 3.0) < 1e-12
    assert fit.fit_range == (H[0], H[-1])


def test_wrong_slope_fails():
    fit = fit_order(measurement([2.0 * H**2]), 3.0)
    assert fit.status == "FAIL" and abs(fit.slope - 2.0) < 1e-12


def test_round_off_points_are_excluded_not_fitted():
    errors = np.maximum(0.03 * H**5, 1e-16)  # the smallest h are at the floor
    fit = fit_order(measurement([errors]), 5.0)
    assert fit.status == "PASS" and abs(fit.slope - 5.0) < 1e-9
    assert not fit.used[0, 0]
    assert any("round-off" in reason for reason in fit.reasons)


def test_all_at_floor_is_exact_and_too_few_points_is_floor_limited():
    assert fit_order(measurement([np.full(10, 1e-17)]), 3.0).status == "EXACT"
    errors = np.where(H > H[-3], 3.0 * H**6, 1e-17)
    assert fit_order(measurement([errors]), 6.0).status == "FLOOR-LIMITED"


def test_pre_asymptotic_large_steps_are_dropped():
    errors = H**3 + 200.0 * H**5  # the h^5 term bends the top of the range
    fit = fit_order(measurement([errors]), 3.0)
    assert fit.status == "PASS" and abs(fit.slope - 3.0) < 0.15
    assert fit.fit_range[1] < H[-1]


def test_no_stable_range_is_pre_asymptotic():
    errors = np.exp(20 * H)  # not a power law anywhere
    assert fit_order(measurement([errors]), 3.0).status == "PRE-ASYMPTOTIC"


def test_inaccurate_reference_is_dropped_and_nan_diverges():
    errors = 2.0 * H**3
    fit = fit_order(measurement([errors], reference=[0.5 * errors]), 3.0)
    assert fit.status == "REFERENCE-LIMITED"
    assert fit_order(measurement([np.full(10, np.nan)]), 3.0).status == "DIVERGED"
    partial = np.where(H > H[-2], np.inf, 2.0 * H**3)
    fit = fit_order(measurement([partial]), 3.0)
    assert fit.status == "PASS" and any("NaN or inf" in r for r in fit.reasons)
