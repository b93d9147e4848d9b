"""Ctrl-C (SIGINT) and SIGTERM on the command line: one line, exit 130 or 143, within a second, at any moment.

Python runs a signal handler only in the main thread and only between two bytecodes, so an exception raised by a
handler cannot stop a run whose main thread waits in a long XLA computation or compilation, can be swallowed
(JAX's garbage-collection callback ignores it), and leaves the threads of ``harness.base.parallel`` computing after the
main thread gave up (the interpreter joins them before it exits). On the command line (``handling(hard=True)``)
a signal therefore ends the process itself: the handler writes the one line (how many checks ran, where the
finished ones are saved: ``current_run``) and calls ``os._exit`` with 130 (SIGINT) or 143 (SIGTERM); a watcher
thread, woken through ``signal.set_wakeup_fd`` whatever the main thread is doing, does the same GRACE_SECONDS
later if the process is still there. A file being written is never cut: ``deferred()`` blocks finish first.
``early()``, called by ``harness/__init__.py`` before it imports JAX, covers the command line's first second
(the imports). Called from Python (``harness.cli.main(argv)``), ``handling(hard=False)`` raises
KeyboardInterrupt in the main thread instead (``Terminated`` for SIGTERM), as Python does for Ctrl-C.

This module imports nothing but the standard library: it runs before JAX is imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
GRACE_SECONDS = 1.0
"""How long the watcher leaves the main thread to stop by itself before it ends the process."""
DEFER_LIMIT_SECONDS = 30.0
"""The longest a signal waits for the ``deferred()`` blocks (file writes) in progress."""
COMMAND_MODULES = ("harness", "harness.cli", "harness.__main__")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt (``handling(hard=False)``)."""


_lock = threading.Lock()
_stopping = threading.Lock()
_deferred = 0  # deferred() blocks open, in any thread
_pending: int | None = None  # a signal that came during one of them (hard mode)
_received: int | None = None  # the last SIGINT or SIGTERM received while ``handling``
_hard = False
_run: Callable[[], tuple[int, int, Path | None]] | None = None


def exit_code(signum: int) -> int:
    return EXIT_CODES.get(signal.Signals(signum), 128 + int(signum))


def text(signum: int, saved: int, total: int, path: Path | None) -> str:
    """The line of an interrupted run (without the ``harness: `` prefix)."""
    name = signal.Signals(signum).name
    if total == 0:
        return f"interrupted ({name}) before any check ran; nothing was checked"
    if path is None or saved == 0:
        return f"interrupted ({name}) after {saved} of {total} checks; nothing was saved"
    return (f"interrupted ({name}) after {saved} of {total} checks; the {saved} finished checks are saved in {path}: "
            "run the same command with --resume to continue")


def current_run(describe: Callable[[], tuple[int, int, Path | None]] | None) -> None:
    """Register what the running checks have done, for the line of a signal: ``describe()`` gives (checks
    finished, of how many, the file they are saved in or None)."""
    global _run
    _run = describe


def received() -> int | None:
    """The SIGINT or SIGTERM received while ``handling`` (None: a KeyboardInterrupt came from code, not a signal)."""
    return _received


def stop(signum: int) -> None:
    """End the process now: the line on stderr, exit 130 or 143 (once, whichever thread comes first)."""
    if not _stopping.acquire(blocking=False):
        return
    saved, total, path = 0, 0, None
    with contextlib.suppress(Exception):
        if _run is not None:
            saved, total, path = _run()
    with contextlib.suppress(Exception):  # the results printed so far (stderr holds at most a partial line)
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, f"harness: {text(signum, saved, total, path)}\n".encode())
    os._exit(exit_code(signum))


def _handler(signum: int, frame) -> None:
    global _received, _pending
    _received = signum
    if not _hard:
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    with _lock:
        if _deferred:
            _pending = signum
            return
    stop(signum)


def _watch(reader: int) -> None:
    """The watcher thread: each signal's number arrives on ``reader`` (set_wakeup_fd) the moment it comes."""
    global _received
    with contextlib.closing(os.fdopen(reader, "rb", buffering=0)) as pipe:
        while True:
            try:
                data = pipe.read(1)
            except OSError:
                return
            if not data:
                return
            if data[0] not in (signal.SIGINT, signal.SIGTERM):
                continue
            _received = data[0]
            time.sleep(GRACE_SECONDS)
            limit = time.monotonic() + DEFER_LIMIT_SECONDS
            while _deferred and time.monotonic() < limit:
                time.sleep(0.05)
            stop(data[0])


@contextlib.contextmanager
def handling(hard: bool) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM stop the harness: ``hard`` (the command line) ends the process with
    its line (module docstring), else KeyboardInterrupt (``Terminated`` for SIGTERM) is raised in the main
    thread. Outside the main thread, signals are left alone."""
    global _hard, _received, _run
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in EXIT_CODES}
    _hard, _received, _run = hard, None, None
    writer = old = None
    try:
        for signum in EXIT_CODES:
            signal.signal(signum, _handler)
        if hard:
            reader, writer = os.pipe()
            os.set_blocking(writer, False)
            old = signal.set_wakeup_fd(writer)
            threading.Thread(target=_watch, args=(reader,), name="harness-signals", daemon=True).start()
        yield
    finally:
        if writer is not None:
            signal.set_wakeup_fd(old if old is not None else -1)
            os.close(writer)  # the watcher reads the end of the pipe and ends
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _hard = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (a file write is never cut in half), in any thread."""
    global _deferred
    with _lock:
        _deferred += 1
    blocked = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    except (AttributeError, ValueError, OSError):  # no sigmask on this platform or thread
        old = None
    try:
        yield
    finally:
        with _lock:
            _deferred -= 1
            pending = _pending if _deferred == 0 else None
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a signal blocked meanwhile is handled here
        if pending is not None:
            stop(pending)


def command_line() -> bool:
    """Whether this process is the harness's command line (``harness ...`` or ``python -m harness ...``)."""
    if not sys.argv:
        return False
    if sys.argv[0] == "-m":  # python -m NAME, while NAME's package imports
        argv = list(getattr(sys, "orig_argv", []))
        index = argv.index("-m", 1) if "-m" in argv[1:] else len(argv)
        return index + 1 < len(argv) and argv[index + 1] in COMMAND_MODULES
    return Path(sys.argv[0]).stem == "harness"


def _early(signum: int, frame) -> None:
    stop(signum)


def early() -> None:
    """On the command line only: a signal while the harness imports (before ``handling``) ends the process with
    its line and exit code, not a traceback."""
    if not command_line() or threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(ValueError, OSError):
        for signum in EXIT_CODES:
            signal.signal(signum, _early)
