"""The content library loaded once per test process for each content folder as it is on disk.

Loading and validating a content folder (YAML, Markdown, both locales) costs about a third of a second of CPU; a
command run in the test's process (`run_vipbot_here`, `Cli`, a `CliContext` of a test's own) loaded it again on
each run. `ContentLibrary` is frozen, and the session's `content` fixture is shared by every test already; a
folder whose files changed (a test that writes its own content) is loaded afresh, and a folder with problems
raises as it always did.
"""

from __future__ import annotations

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


def remember_loaded_content() -> None:
    """From now on in this process, `bot.catalog.load_content` (which commands look up when they run) is
    `load_content` above. Called once by the suite's conftest; the function's answers are the same."""
    bot.catalog.load_content = load_content
