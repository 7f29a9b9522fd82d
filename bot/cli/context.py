"""What every command gets: the environment it was started with, and lazily the settings and services.

The checks that need the file system or the network (the data and content folders, reaching the database) live
here too, so that `serve`, `db upgrade` and every other command fail the same way: a ConfigError naming the
variable, which `main` prints as one line before exiting with code 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.domain.clock import Clock, SystemClock
from bot.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.app import Services
    from bot.catalog import ContentLibrary
    from bot.settings import Settings

# Every command imports this module, `vipbot --help` too: what a command needs (settings, the content library,
# SQLAlchemy, migrations) is imported when it is first asked for, so that a command starts with only its own
# imports and a bad setting is reported before the heavy ones.

CONNECT_TIMEOUT_SECONDS = 30.0
# Commands speak English to the operator; texts with a count come from the locale catalogue, so they take the
# plural form the number needs.
CLI_LOCALE = "en"


@dataclass
class CliContext:
    environ: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    dotenv: Path | None = Path(".env")
    clock: Clock = field(default_factory=SystemClock)
    _settings: Settings | None = None
    _content: ContentLibrary | None = None

    def settings(self) -> Settings:
        """The validated settings; ConfigError propagates to `main`, which prints one line and exits 2."""
        if self._settings is None:
            from bot.settings import load_settings

            self._settings = load_settings(self.environ, self.dotenv)
        return self._settings

    def settings_with_key(self) -> Settings:
        """The settings with the secret key, generated into the data folder on first use (`ensure_secret_key`)."""
        from bot.settings import ensure_secret_key

        return ensure_secret_key(self.settings())

    def content(self) -> ContentLibrary:
        """The content library; a missing folder is a ConfigError, problems inside it a ContentError."""
        if self._content is None:
            from bot.catalog import load_content
            from bot.settings import require_content_dir

            self._content = load_content(require_content_dir(self.settings()))
        return self._content

    def say(self, key: str, **values: object) -> None:
        """Print a text of the locale catalogue (`cli.*`) in the operator's language, counts in their plural form."""
        self.print(self.content().translator.t(CLI_LOCALE, key, **values))

    def services(self, engine: AsyncEngine) -> Services:
        """The services on `engine`, built by the same composition root as `vipbot serve`'s."""
        from bot.app import build_services

        return build_services(self.settings(), self.clock, engine, self.content())

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    async def current_engine(self) -> AsyncEngine:
        """An engine on a current schema: the embedded default is upgraded in place, others must be current.

        The caller disposes of it.
        """
        settings = self.settings()
        engine = await connect(settings)
        from bot.storage.migrate import ensure_current, upgrade

        try:
            if settings.uses_embedded_database:
                await upgrade(engine)
            else:
                await ensure_current(engine)
        except BaseException:
            await engine.dispose()
            raise
        return engine

    @asynccontextmanager
    async def database(self) -> AsyncIterator[AsyncEngine]:
        """`current_engine`, disposed of on the way out."""
        engine = await self.current_engine()
        try:
            yield engine
        finally:
            await engine.dispose()


async def connect(settings: Settings) -> AsyncEngine:
    """An engine whose database answered, or a ConfigError that says where it points (never with a password)."""
    from sqlalchemy.exc import DBAPIError

    from bot.settings import describe_database, prepare_data_dir
    from bot.storage.db import create_engine, ping

    variable = "VIPBOT_DATA_DIR" if settings.uses_embedded_database else "VIPBOT_DATABASE_URL"
    if settings.uses_embedded_database:
        prepare_data_dir(settings)
    url = settings.effective_database_url
    engine = create_engine(url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            await ping(engine)
    except (OSError, TimeoutError, DBAPIError) as exc:
        await engine.dispose()
        reason = _reason(exc, engine.url.password)
        raise ConfigError(variable, f"cannot reach {describe_database(url)}: {reason}") from None
    return engine


def _reason(exc: OSError | DBAPIError, password: str | None) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_SECONDS:.0f} s"
    elif isinstance(exc, DBAPIError):
        reason = str(exc.orig if exc.orig is not None else exc)
    else:
        reason = exc.strerror or str(exc)
    reason = " ".join(reason.split()) or type(exc).__name__  # one line
    # Drivers do not repeat the password, but a message is printed, so make sure of it.
    return reason.replace(password, "***") if password else reason
