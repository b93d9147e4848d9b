"""Run a list of tasks in a few threads or processes, handing back results in the list's order.

A cold check matrix is dominated by building its kernels: tracing (Python, which holds the GIL) and XLA
compilation (which releases it). With two or more threads one kernel compiles while the next is traced; with
helper processes (``Processes``) tracing runs in parallel too. Tasks that share a kernel form a group and run
one after another in one thread or process, so that a kernel is never built twice; groups start in the order of
their first task. The consumer's own thread runs groups between results; helpers start one by one, each when a
task has run STAGGER seconds (a kernel being built): a warm run, whose tasks take milliseconds of Python, stays
in one thread, where handing each result over from another thread would cost more than it saves, and starts no
process.

Results come back in order: a consumer sees exactly the sequence of a serial run, and an exception raised
by a task reaches it at that task's place. Closing the iterator early (an interrupt) stops every thread
after its current task (a process after its current group).
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from harness.base.cache_config import warn_once

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_JOBS = 4
"""Default thread count at most: beyond it tracing, which holds the GIL, is the bottleneck."""
STAGGER = 0.2
"""Seconds a task runs before one more thread starts."""


PROCESS_EVENT = "harness.parallel.process"
"""The audit event (``sys.audit``) raised when a helper process starts: Python raises none for a spawned
process, and harness.base.replay keeps no run that started one (it cannot see what the process read)."""


@dataclass(frozen=True)
class Processes:
    """Helpers that are processes: each helper thread spawns one (not forked: JAX's threads make a fork unsafe),
    which runs ``setup(*arguments)`` once, then ``run(positions)`` for each group the thread takes: the items at
    those positions in order, stopping after the first that fails, as a list of (succeeded, result or
    exception). ``setup`` and ``run`` are module-level functions (sent by name), ``arguments`` picklable."""

    setup: Callable[..., None]
    arguments: tuple
    run: Callable[[list[int]], list[tuple[bool, Any]]]

    def start(self) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        sys.audit(PROCESS_EVENT)
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=self.setup,
                                   initargs=self.arguments)


JOBS_VARIABLE = "HARNESS_JOBS"
"""The environment variable that sets ``default_jobs`` (the pytest plugin sets it to each xdist worker's share of
the cores: harness_pytest.cap_threads_per_worker)."""


def default_jobs() -> int:
    """$HARNESS_JOBS when it is a whole number >= 1, else the CPUs this process may use; at most MAX_JOBS. Another
    value of HARNESS_JOBS gives the CPUs, with one warning line on stderr naming it."""
    text = os.environ.get(JOBS_VARIABLE, "").strip()
    if text.isdigit() and int(text) >= 1:
        return min(int(text), MAX_JOBS)
    if text:
        warn_once(f"{JOBS_VARIABLE}={text!r} is not a number of jobs (a whole number >= 1); using the CPUs available")
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def ordered_map(function: Callable[[Item], Result], items: Sequence[Item], jobs: int,
                group: Callable[[Item], Hashable], processes: Processes | None = None
                ) -> Generator[Result, None, None]:
    """``function(item)`` for every item, in order; items of one ``group`` run in sequence in one thread,
    groups in up to ``jobs`` threads (the consumer's and ``jobs - 1`` helpers), each helper's groups in a process
    of its own when ``processes`` are given (``Processes.run`` computes what ``function`` would)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1 or not items:
        yield from map(function, items)
        return
    from concurrent.futures import ThreadPoolExecutor  # here: a replayed run imports this module for PROCESS_EVENT

    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(group(item), []).append(index)
    finished: dict[int, tuple[bool, Any]] = {}
    running: dict[int, float] = {}  # thread -> when its current task started
    ready = threading.Condition()
    stop = threading.Event()
    pending = collections.deque(groups.values())

    def take() -> collections.deque[int]:
        with ready:
            return collections.deque(pending.popleft() if pending else ())

    def run_one(index: int, inline: bool = False) -> bool:
        """Run one item and keep its outcome; whether it succeeded. ``inline`` (the consumer's own thread): an
        interrupt or exit is raised at once, not at the item's place."""
        with ready:
            running[threading.get_ident()] = time.monotonic()
        try:
            outcome: tuple[bool, Any] = (True, function(items[index]))
        except Exception as exc:  # handed to the consumer at this item's place
            outcome = (False, exc)
        except BaseException as exc:
            if inline:
                raise
            outcome = (False, exc)
        finally:
            with ready:
                running.pop(threading.get_ident(), None)
        with ready:
            finished[index] = outcome
            ready.notify_all()
        return outcome[0]

    def run_elsewhere(pool: ProcessPoolExecutor, indices: list[int]) -> None:
        """Run a group in the helper's process and keep its outcomes; a process that cannot start or dies fails
        the group at its first item."""
        assert processes is not None
        with ready:
            running[threading.get_ident()] = time.monotonic()
        try:
            outcomes = pool.submit(processes.run, indices).result()
        except BaseException as exc:  # noqa: BLE001  handed to the consumer at the group's first item
            outcomes = [(False, exc)]
        finally:
            with ready:
                running.pop(threading.get_ident(), None)
        with ready:
            finished.update(zip(indices, outcomes, strict=False))  # a group stops at its first error
            ready.notify_all()

    def work() -> None:
        pool = processes.start() if processes is not None else None
        try:
            while not stop.is_set() and (indices := take()):
                if pool is not None:
                    run_elsewhere(pool, list(indices))
                    continue
                while indices and not stop.is_set() and run_one(indices.popleft()):
                    pass
        finally:
            if pool is not None:
                pool.shutdown(wait=not stop.is_set(), cancel_futures=True)

    def start_helpers(executor: ThreadPoolExecutor) -> None:
        """Start a helper each time a task has run STAGGER seconds, up to ``jobs - 1`` of them."""
        helpers = 0
        while helpers < jobs - 1 and not stop.wait(STAGGER):
            with ready:
                slow = any(time.monotonic() - begun >= STAGGER for begun in running.values()) and pending
            if slow:
                executor.submit(work)
                helpers += 1

    executor = ThreadPoolExecutor(min(jobs, len(groups)), thread_name_prefix="harness")
    executor.submit(start_helpers, executor)
    mine: collections.deque[int] = collections.deque()  # what this thread runs itself between results
    try:
        for index in range(len(items)):
            while True:
                with ready:
                    if index in finished:
                        succeeded, value = finished.pop(index)
                        break
                if not mine:
                    mine = take()
                if mine:
                    if not run_one(mine.popleft(), inline=True):
                        mine.clear()  # a group stops at its first error
                else:
                    with ready:
                        if index not in finished:
                            ready.wait(timeout=0.2)  # wakes now and then, so that Ctrl-C gets through
            if not succeeded:
                raise value
            yield value
    finally:
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
