"""Checks: one (game, update rule, flow, expectation), run and judged; and the check matrix file.

The JSON document written by ``harness check --json`` (``results_document``) is a public contract:
``schema_version`` and ``results``, one entry per check with ``game``, ``scheme``, ``flow``,
``expected_slope``, ``fitted_slope``, ``status``, ``passed``, ``step_sizes``, ``points``, ``errors``,
``reference_error``, ``series`` (the error series, harness.verdict.series) and more fields, listed in
``CheckResult.to_dict``.

The package's modules: ``spec`` (the types and the results document), ``run`` (running and judging), ``matrix``
(the matrix files); ``budget``, ``resume``, ``shards`` and ``compare`` build on them.
"""

from harness.base.errors import MatrixError
from harness.checks.matrix import BUNDLED_MATRICES, DEFAULT_MATRIX, LITERATURE_MATRIX, load_matrix
from harness.checks.run import (
    GLOBAL_HORIZON,
    Plan,
    kernel_group,
    measurement_grid,
    plan_check,
    plan_scale,
    run_check,
    run_checks,
    run_two_step_check,
    series_group,
    series_of,
    shared_bea_orders,
    shared_series_orders,
    units,
    user_functions,
)
from harness.checks.spec import (
    MEASURES,
    SCHEMA_VERSION,
    STATUSES,
    CheckResult,
    CheckSpec,
    Settings,
    results_document,
    with_settings,
)

__all__ = ["BUNDLED_MATRICES", "DEFAULT_MATRIX", "GLOBAL_HORIZON", "LITERATURE_MATRIX", "MEASURES", "SCHEMA_VERSION",
           "STATUSES", "CheckResult", "CheckSpec", "MatrixError", "Plan", "Settings", "kernel_group", "load_matrix",
           "measurement_grid", "plan_check", "plan_scale", "results_document", "run_check", "run_checks",
           "run_two_step_check", "series_group", "series_of", "shared_bea_orders", "shared_series_orders",
           "units", "user_functions", "with_settings"]
