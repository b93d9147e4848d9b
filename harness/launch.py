"""The ``harness`` command and ``python -m harness``: a repeated ``harness check`` or ``harness derive`` is
replayed from its stored run before JAX is imported (harness.base.replay); any other command runs through
harness.cli, with the garbage collector set for tracing (harness.base.collector), its run (imports included)
recorded where a later one may replay it. ``run`` then ends the process without Python's teardown (see
``exit_now``)."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

from harness.base import collector, replay


def _command_line() -> int:
    collector.tune()  # a process that traces and compiles: fewer full collections (harness.base.collector)
    from harness import cli  # JAX and the rest: only for a run that is not replayed

    return cli.main()


def main() -> int:
    """The exit code of ``harness`` with this process's arguments."""
    argv = sys.argv[1:]
    key = replay.run_key(argv)
    if key is None:
        return _command_line()
    try:
        code = replay.replayed(key, argv)
    except OSError as exc:  # the output's reader went away (a broken pipe): one line, exit 2, as in a run
        with contextlib.suppress(OSError, ValueError):
            print(f"harness: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 2
    return code if code is not None else replay.recorded(key, argv, _command_line)


def run() -> NoReturn:
    """The ``harness`` command itself (console script and ``python -m harness``): ``main()``, then ``exit_now``."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` as Python's exit would, less its teardown: the atexit handlers run (the caches'
    caps, multiprocessing joining its children) and the standard streams are flushed (exit code 120 where that
    fails, as Python's own), then ``os._exit``. The teardown skipped frees every object one by one, JAX's
    compiled programs among them: about 0.2 s of a warm ``harness check --game dirac_gan`` that took 1.1 s."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader went away, or the stream was closed
            code = 120
    os._exit(code)
