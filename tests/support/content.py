"""The content library loaded once per test process for each content folder as it is on disk.

Loading and validating a content folder (YAML, Markdown, both locales) costs about a third of a second of CPU; a
command run in the test's process (`run_vipbot_here`, `Cli`) loaded it again on each run. `ContentLibrary` is
frozen, and the session's `content` fixture is shared by every test already; a folder whose files changed (a
test that writes its own content) is loaded afresh, and a folder with problems raises as it always did.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import bot.catalog
from bot.catalog import ContentLibrary
from bot.catalog import load_content as load_from_disk

_loaded: dict[tuple[Path, tuple[tuple[str, int, int], ...]], ContentLibrary] = {}


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = []
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        files.append((str(path.relative_to(root)), stat.st_mtime_ns, stat.st_size))
    return tuple(files)


def load_content(root: Path) -> ContentLibrary:
    """`bot.catalog.load_content`, remembered for a folder whose files have not changed since."""
    key = (root.resolve(), _fingerprint(root)) if root.is_dir() else None
    if key is None or key not in _loaded:
        library = load_from_disk(root)
        if key is None:
            return library
        _loaded[key] = library
    return _loaded[key]


_users: list[object] = []  # one entry per command running with it
_users_lock = threading.Lock()


@contextlib.contextmanager
def remembered_content() -> Iterator[None]:
    """While it lasts, commands load their content folder through `load_content` above (commands run in threads,
    and may overlap: the original is put back when the last one ends)."""
    me = object()
    with _users_lock:
        _users.append(me)
        bot.catalog.load_content = load_content
    try:
        yield
    finally:
        with _users_lock:
            _users.remove(me)
            if not _users:
                bot.catalog.load_content = load_from_disk
