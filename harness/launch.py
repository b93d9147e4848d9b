"""The ``harness`` command and ``python -m harness``: a repeated ``harness check`` or ``harness derive`` is
replayed from its stored run before JAX is imported (harness.base.replay); any other command runs through
harness.cli, its run (imports included) recorded where a later one may replay it."""

from __future__ import annotations

import contextlib
import os
import sys

from harness.base import replay


def _command_line() -> int:
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
