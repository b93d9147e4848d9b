"""Where a pytest session collects the checks its tests run (``--harness-json``): ``harness.pytest_plugin``'s
``assert_order`` hands each result to ``record``, which passes it to the innermost recorder the plugin
(harness_pytest) registered for its session, labelled with the test that ran it: ``current_test``, set by the
``harness_check`` fixture, else the test pytest names in ``PYTEST_CURRENT_TEST``."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable
from typing import Any

RECORDERS: list[Callable[[Any, str | None], None]] = []
"""One per configured pytest session, innermost last (pytester nests sessions)."""
current_test: contextvars.ContextVar[str | None] = contextvars.ContextVar("harness_current_test", default=None)


def record(result: Any) -> None:
    """Hand ``result`` to the innermost session's recorder, if any, with the name of the test that ran it."""
    if not RECORDERS:
        return
    test = current_test.get()
    if test is None:
        current = os.environ.get("PYTEST_CURRENT_TEST", "")
        test = current.rsplit(" (", 1)[0] if current else None
    RECORDERS[-1](result, test)
