"""`vipbot` in a process of its own on a clock the test moves, instead of waiting for the wall clock.

    python -m tests.support.clocked CLOCK_FILE serve

runs `vipbot serve` (or any command) with the injected clock reading the system clock plus the seconds held in
CLOCK_FILE. Every process started on the same file shares one time line; `move_clock` rewrites the file, and
each process sees the new time on its next reading. Start the processes with `start_vipbot(..., clock=file)`.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path


class FileOffsetClock:
    """The system clock shifted by the offset (seconds) in a file; the file is read again when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        stat = self.path.stat()
        key = (stat.st_ino, stat.st_mtime_ns)
        if key != self._seen:
            self._offset = timedelta(seconds=float(self.path.read_text(encoding="utf-8")))
            self._seen = key
        return datetime.now(UTC) + self._offset


def set_offset(path: Path, seconds: float) -> None:
    """Write the offset atomically (a new file moved into place): a reader never sees half of it."""
    partial = path.with_name(path.name + ".new")
    partial.write_text(repr(seconds), encoding="utf-8")
    os.replace(partial, path)


def move_clock(path: Path, to: datetime) -> None:
    """From now on, every process on `path` reads `to` (and onwards, at the wall clock's pace)."""
    set_offset(path, (to - datetime.now(UTC)).total_seconds())


def main() -> int:
    from bot.__main__ import main as vipbot

    clock_file, *args = sys.argv[1:]
    return vipbot(args, clock=FileOffsetClock(Path(clock_file)))


if __name__ == "__main__":
    sys.exit(main())
