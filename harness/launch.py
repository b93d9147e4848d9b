"""The ``harness`` command and ``python -m harness``: a repeated ``harness check`` is replayed from its stored run
before JAX is imported (harness.base.replay); any other command runs through harness.cli, its run stored where a
later one may replay it."""

from __future__ import annotations

import contextlib
import os
import sys

from harness.base import replay


def main() -> int:
    """The exit code of ``harness`` with this process's arguments."""
    argv = sys.argv[1:]
    key = replay.run_key(argv)
    if key is not None:
        try:
            code = replay.replayed(key, argv)
        except OSError as exc:  # the output's reader went away (a broken pipe): one line, exit 2, as in a run
            with contextlib.suppress(OSError, ValueError):
                print(f"harness: error: {type(exc).__name__}: {exc}", file=sys.stderr)
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            return 2
        if code is not None:
            return code
    from harness import cli  # JAX and the rest: only for a run that is not replayed

    if key is None:
        return cli.main()
    return replay.recorded(key, argv, cli.main)
