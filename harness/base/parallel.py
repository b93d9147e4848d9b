"""Run a list of tasks in a few threads, handing back results in the list's order.

A cold check matrix is dominated by building its kernels: tracing (Python, which holds the GIL) and XLA
compilation (which releases it). With two or more threads one kernel compiles while the next is traced.
Tasks that share a kernel form a group and run one after another in one thread, so that a kernel is never
built twice; groups start in the order of their first task.

Results come back in order: a consumer sees exactly the sequence of a serial run, and an exception raised
by a task reaches it at that task's place. Closing the iterator early (an interrupt) stops every thread
after its current task.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_JOBS = 4
"""Default thread count at most: beyond it tracing, which holds the GIL, is the bottleneck."""


def default_jobs() -> int:
    """The CPUs this process may use, at most MAX_JOBS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def ordered_map(function: Callable[[Item], Result], items: Sequence[Item], jobs: int,
                group: Callable[[Item], Hashable]) -> Generator[Result, None, None]:
    """``function(item)`` for every item, in order; items of one ``group`` run in sequence in one thread,
    groups in up to ``jobs`` threads."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1:
        yield from map(function, items)
        return
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(group(item), []).append(index)
    finished: dict[int, tuple[bool, Any]] = {}
    ready = threading.Condition()
    stop = threading.Event()

    def run_group(indices: list[int]) -> None:
        for index in indices:
            if stop.is_set():
                return
            try:
                outcome: tuple[bool, Any] = (True, function(items[index]))
            except BaseException as exc:  # noqa: BLE001  handed to the consumer at this item's place
                outcome = (False, exc)
            with ready:
                finished[index] = outcome
                ready.notify_all()
            if not outcome[0]:
                return

    executor = ThreadPoolExecutor(min(jobs, len(groups)) or 1, thread_name_prefix="harness")
    try:
        for indices in groups.values():
            executor.submit(run_group, indices)
        for index in range(len(items)):
            with ready:
                while index not in finished:
                    ready.wait(timeout=0.2)  # wakes now and then, so that Ctrl-C gets through
                succeeded, value = finished.pop(index)
            if not succeeded:
                raise value
            yield value
    finally:
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
