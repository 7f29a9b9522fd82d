"""One process at a time, across the suite's parallel workers: for a step that changes something they share
(installing the npm packages a test needs into the worktree, for example)."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(what: Path) -> Iterator[None]:
    """Hold the lock for `what` (a path every worker names the same) until the block ends."""
    digest = hashlib.sha256(str(what.resolve()).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"vipbot-tests-{digest}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
