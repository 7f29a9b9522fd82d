"""What every command gets: the environment it was started with, and lazily the settings and services."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import ContentLibrary, load_content
from bot.settings import Settings, load_settings
from bot.storage.db import create_engine
from bot.storage.migrate import ensure_current, upgrade


@dataclass
class CliContext:
    environ: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    dotenv: Path | None = Path(".env")
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """The validated settings; ConfigError propagates to `main`, which prints one line and exits 2."""
        if self._settings is None:
            self._settings = load_settings(self.environ, self.dotenv)
        return self._settings

    def content(self) -> ContentLibrary:
        return load_content(self.settings().content_dir)

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    @asynccontextmanager
    async def database(self) -> AsyncIterator[AsyncEngine]:
        """An engine on a current schema: the embedded default is upgraded in place, others must be current."""
        settings = self.settings()
        if settings.uses_embedded_database:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        try:
            if settings.uses_embedded_database:
                await upgrade(engine)
            else:
                await ensure_current(engine)
            yield engine
        finally:
            await engine.dispose()
