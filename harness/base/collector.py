"""Python's garbage collector set for a process that traces and compiles many programs: the harness's own
processes call ``tune`` (the ``harness`` command, its helper processes, the project's test suite); importing the
harness or calling its functions leaves a user's process as it was.

Tracing a program builds objects that live as long as the trace (its jaxpr, the tracers, MLIR's operations), so
they outlive the young generations and are moved to the oldest. With Python 3.11's thresholds (700, 10, 10) a full
collection then runs each time the oldest generation has grown by a quarter, and each walks every object the
process holds, JAX's caches of traced programs included: a cold ``harness check --all --jobs 1`` ran 15 full
collections, 2.9 s in all (and 0.6 s in the younger generations). With ``THRESHOLDS`` it ran none (0.7 s in the
younger ones), and its peak memory was the same (960 MB).
"""

from __future__ import annotations

import gc

THRESHOLDS = (5000, 20, 100)
"""``gc.set_threshold``'s: the youngest generation is collected after 5,000 net allocations (Python: 700), the
middle one after 20 of those (10), and the oldest after 100 of the middle one's (10)."""


def tune() -> None:
    """Set the collector's thresholds to ``THRESHOLDS`` (for a process the harness owns)."""
    gc.set_threshold(*THRESHOLDS)
