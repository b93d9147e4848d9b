"""Order checks inside a user's own pytest suite.

Installing the package registers a pytest plugin (entry point ``pytest11``, name ``harness``; its hooks
live in the small top-level module ``harness_pytest`` so that pytest runs that never use it do not import
JAX). It gives

- the fixture ``harness_check``: ``harness_check(game, scheme, flow, expected=3)`` is ``assert_order``
  bound to the running test;
- ``assert_order`` itself, importable from here for helpers and notebooks;
- the option ``--harness-json PATH``: every order check of the session (passed or not, with the test
  that ran it) written at the end as the JSON contract of ``harness check --json``; works under
  pytest-xdist;
- the option ``--harness-cap-threads`` (ini: ``harness_cap_threads = true``): each pytest-xdist worker's XLA
  and BLAS threads capped to its share of the cores (without it the plugin changes no environment variable).

The fixture turns on JAX's persistent compilation cache (``harness.enable_compilation_cache``) when a test uses
it; merely installing the plugin changes no ``jax.config`` value.

::

    from harness.pytest_plugin import assert_order

    def test_my_derivation(harness_check):
        harness_check("path/to/my_game.py:game", "alternating", "modified", expected=3, lr1=0.4, lr2=1.5)

    def test_my_flow(harness_check):  # paths relative to this test file
        harness_check("dirac_gan", "rules.py:lookahead", "rules.py:lookahead_flow", expected=3)

    def test_bilinear():  # the plain function works too (no recording for --harness-json outside pytest)
        assert_order("bilinear", "simultaneous", "gradient", expected=2)

A failure is an ``AssertionError`` whose message says what was expected and measured (fitted slope ±
its standard error, status, reasons, the range of step sizes of the fit), which initial point fits worst
(its own slope and the pair of consecutive step sizes whose local slope deviates most) and, for a slope one
order off, what that usually means.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.api import check, explain
from harness.base.errors import UsageError
from harness.base.recording import record
from harness.base.status import Status

if TYPE_CHECKING:
    from harness.checks import CheckResult, Settings
    from harness.flows import Flow
    from harness.model.game import Game
    from harness.rules.schemes import Scheme

__all__ = ["assert_order"]


def assert_order(
    game: Game | str,
    scheme: Scheme | str | Callable = "simultaneous",
    flow: Flow | str | Callable = "modified",
    expected: float | None = None,
    *,
    status: str = Status.PASS,
    tolerance: float | None = None,
    settings: Settings | None = None,
    **params: Any,
) -> CheckResult:
    """Measure the local-error order of ``scheme`` against ``flow`` on ``game`` and assert it.

    ``game``: a ``harness.Game`` or a spec (catalog name or ``path/to/file.py:NAME``); ``scheme``: a ``Scheme``,
    its name, or your rule (``path/to/file.py:NAME`` or a function); ``flow``: a ``Flow``, its name, or your
    flow (``path/to/file.py:NAME`` or a function declared with ``@harness.flow(order=p)``); relative paths are
    taken relative to the working directory here, to the test file in the fixture; ``expected``: the expected
    slope (default: the flow's order + 2); ``status``: the expected status (``PASS``, or e.g. ``PRE-ASYMPTOTIC``
    for a check known to be limited); ``tolerance`` and the other keywords (``lr1``, ``lr2``, ``m``, ``k``,
    ``first``, ``points``, ``seed``, ``h_max``…) as for ``harness.check``.

    Returns the ``CheckResult`` when the check meets its expectation; raises ``AssertionError`` with a
    readable message (``harness.explain``) when it does not.

    >>> assert_order("dirac_gan", "alternating", "modified", expected=3, lr2=0.5, points=2).fit.status
    'PASS'
    >>> assert_order("bilinear", "simultaneous", "official", expected=3, lr2=0.3, points=2)
    Traceback (most recent call last):
    ...
    AssertionError: order check failed: bilinear · simultaneous(lr1=1, lr2=0.3) · official
    ...
    """
    __tracebackhide__ = True
    _number(expected, "expected", "the expected slope, e.g. expected=3")
    _number(tolerance, "tolerance", "the allowed slope deviation, e.g. tolerance=0.15")
    if not isinstance(status, str):
        raise UsageError(f"status must be a status name such as 'PASS', got {status!r} ({type(status).__name__})")
    result = check(game, scheme, flow, expected_slope=expected, expected_status=status, tolerance=tolerance,
                   settings=settings, **params)
    record(result)
    if not result.passed:
        raise AssertionError(explain(result))
    return result


def _number(value: Any, name: str, what: str) -> None:
    """UsageError (one line, before anything runs) unless ``value`` is None or a finite real number."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, numbers.Real)) or not math.isfinite(value):
        raise UsageError(f"{name} must be a number ({what}), got {value!r} ({type(value).__name__})")
