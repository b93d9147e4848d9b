"""Files the harness writes: whole or not at all (a temporary file and a rename, with SIGINT and SIGTERM deferred
while it is written), and only where writing destroys nothing (``json_target``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from harness.base import signals
from harness.base.errors import UsageError


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


def json_target(text: str, inputs: Sequence[Path] = ()) -> Path:
    """The path of --json, refused (UsageError, one line) where writing it would destroy something: a symbolic
    link (its target would not be updated), a folder, a device or other non-regular file, a path under a file,
    or one of the run's own input files (``inputs``); the same for its partial-results file PATH.partial."""
    for path, what in ((Path(text), f"--json {text}"), (Path(text + ".partial"), f"--json {text}: {text}.partial")):
        if path.is_symlink():
            raise UsageError(f"{what} is a symbolic link: give the path of a regular file (a link's target is not "
                             "written through it)")
        if path.is_dir():
            raise UsageError(f"{what} is a folder: give a file path, e.g. {Path(text) / 'results.json'}")
        if path.exists() and not path.is_file():
            raise UsageError(f"{what} is not a regular file (a device, pipe or socket): give a file path")
        parent = next((p for p in path.parents if p.exists() or p.is_symlink()), None)
        if parent is not None and not parent.is_dir():
            raise UsageError(f"{what}: {parent} is not a folder: give a file path in a folder")
        for name in inputs:
            with contextlib.suppress(OSError):
                if path.exists() and os.path.samefile(path, name):
                    raise UsageError(f"{what} is one of the run's own input files ({name}): give another path")
    return Path(text)
