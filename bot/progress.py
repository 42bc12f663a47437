"""A small progress bar on stderr for long CLI steps (OPML import, preview fetching)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`label [#######.....] 12/40` redrawn in place on a terminal; a few plain lines elsewhere."""

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self._tty = self.stream.isatty()
        self._last_plain = -1.0

    def update(self, done: int, total: int) -> None:
        """Show `done` of `total`."""
        self.done, self.total = min(done, total), total
        if self._tty:
            filled = self.width * self.done // self.total if self.total else self.width
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()
        elif self.done == self.total or time.monotonic() - self._last_plain >= 2:
            self._last_plain = time.monotonic()
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
