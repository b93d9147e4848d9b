"""Progress of a long run on a terminal: one line, rewritten in place, with a bar, the count and what is
being done; notes (such as a check that did not meet its expectation) stay above it."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

WIDTH = 28


class ProgressBar:
    """``bar(done, total, text)`` redraws ``[#####.....] done/total text``; a newline ends it at done = total."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream

    def _columns(self) -> int:
        return shutil.get_terminal_size().columns - 1

    def __call__(self, done: int, total: int, text: str) -> None:
        filled = WIDTH * done // max(total, 1)
        line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} {text}"
        self.stream.write("\r" + line[: self._columns()].ljust(self._columns()) + ("\n" if done == total else ""))
        self.stream.flush()

    def note(self, text: str) -> None:
        """Print ``text`` on its own line, above the bar (redrawn at the next call)."""
        self.stream.write("\r" + text.ljust(self._columns()) + "\n")
        self.stream.flush()
