"""Files the harness writes: whole or not at all (a temporary file and a rename, with SIGINT and SIGTERM deferred
while it is written)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness.base import signals


def signals_deferred() -> contextlib.AbstractContextManager[None]:
    """SIGINT and SIGTERM wait until the block is done (a file write is never cut in half; harness.base.signals)."""
    return signals.deferred()


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file of a unique name beside ``path`` and a rename, with signals deferred;
    the temporary file is removed when anything fails (nothing is left behind). A symbolic link at ``path``
    is replaced, its target never written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    with signals_deferred():
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
