"""`vipbot doctor`: every part of a deployment checked end to end, one line per finding with what to do.

Each check returns findings and never raises for a platform that does not answer: a doctor that dies on the
first unreachable server tells the operator nothing about the rest.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.delivery import DeliveryError, DeliveryFailureKind
from bot.domain.tenancy import Platform
from bot.errors import ConfigError
from bot.ops.keys import KeySource, key_info
from bot.security.secret import Secret
from bot.settings import SECRET_KEY_FILE, Settings, describe_database

if TYPE_CHECKING:  # the Slack adapter is imported only when a check needs it
    from bot.adapters.slack.gateway import TokenIdentity

HTTP_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 10.0
CLOCK_SKEW_WARNING_S = 60.0  # TOTP codes allow about 30 s either side; Slack signatures 5 minutes
EARLIEST_SANE_YEAR = 2025


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.check:<9} {self.detail}"


@dataclass
class Doctor:
    """The checks, with what they share: the settings, an engine once the database answered, and the clocks of
    the servers that answered (to tell whether this machine's clock is off)."""

    settings: Settings
    connect: Callable[[Settings], Awaitable[AsyncEngine]]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    engine: AsyncEngine | None = None
    server_times: list[tuple[str, datetime]] = field(default_factory=list)

    async def run(self) -> list[Finding]:
        findings: list[Finding] = []
        try:
            findings += await self.database()
            findings += self.secret_key()
            findings += await self.urls()
            findings += await self.slack()
            findings += await self.teams()
            findings += await self.smtp()
            findings += self.clock()
        finally:
            if self.engine is not None:
                await self.engine.dispose()
        return findings

    # -- database ------------------------------------------------------------------------------------------

    async def database(self) -> list[Finding]:
        from bot.storage.migrate import code_heads, database_heads

        settings = self.settings
        try:
            self.engine = await self.connect(settings)
        except ConfigError as exc:
            return [Finding("database", Status.FAIL, f"{exc.variable}: {exc.problem}")]
        where = describe_database(settings.effective_database_url)
        have, want = await database_heads(self.engine), code_heads()
        if have == want:
            return [Finding("database", Status.OK, f"{where}: answers, schema current")]
        state = "empty" if not have else "behind (or ahead of) this version"
        if settings.uses_embedded_database:
            advice = "`vipbot serve` upgrades it at start, or run `vipbot db upgrade` now"
            return [Finding("database", Status.WARN, f"{where}: schema {state}; {advice}")]
        return [Finding("database", Status.FAIL, f"{where}: schema {state}; run `vipbot db upgrade`")]

    # -- secret key ----------------------------------------------------------------------------------------

    def secret_key(self) -> list[Finding]:
        info = key_info(self.settings)
        if info.source is KeySource.ENVIRONMENT:
            where = f"the file {info.path}" if info.path else "VIPBOT_SECRET_KEY"
            return [Finding("key", Status.OK, f"from {where} (fingerprint {info.fingerprint})")]
        if info.source is KeySource.DATA_FOLDER:
            return [
                Finding(
                    "key",
                    Status.WARN,
                    f"generated into {info.path} (fingerprint {info.fingerprint}): keep a copy apart from "
                    "backups, and for production set VIPBOT_SECRET_KEY (see docs/operations.md)",
                )
            ]
        return [
            Finding(
                "key",
                Status.WARN,
                f"none yet: `vipbot serve` generates one into {self.settings.data_dir / SECRET_KEY_FILE}; "
                "for production set VIPBOT_SECRET_KEY",
            )
        ]

    # -- public addresses ----------------------------------------------------------------------------------

    async def urls(self) -> list[Finding]:
        settings = self.settings
        base, portal = settings.public_base_url, settings.public_portal_url
        findings: list[Finding] = []
        if settings.base_url is None:
            findings.append(
                Finding(
                    "base-url",
                    Status.WARN,
                    f"VIPBOT_BASE_URL is not set: links point at {base}, which only this machine opens; "
                    "set it to the address people and Slack/Teams use",
                )
            )
        elif settings.is_production and not base.startswith("https://"):
            findings.append(
                Finding(
                    "base-url",
                    Status.FAIL,
                    f"VIPBOT_BASE_URL {base} is not https://: Slack and Teams refuse it",
                )
            )
        findings.append(await self._answers("base-url", base, "VIPBOT_BASE_URL"))
        portal_parts, base_parts = urlsplit(portal), urlsplit(base)
        if not portal_parts.path.rstrip("/").endswith("/portal"):
            findings.append(
                Finding(
                    "portal",
                    Status.FAIL,
                    f"VIPBOT_PORTAL_URL {portal} does not end in /portal, where vipbot serves the portal",
                )
            )
        elif (portal_parts.scheme, portal_parts.netloc) != (base_parts.scheme, base_parts.netloc):
            findings.append(await self._answers("portal", portal, "VIPBOT_PORTAL_URL"))
        else:
            findings.append(Finding("portal", Status.OK, f"{portal}/ (on the same address as the console)"))
        return findings

    async def _answers(self, check: str, url: str, variable: str) -> Finding:
        """Does a vipbot answer at this address? Its /healthz says so."""
        parts = urlsplit(url)
        health = f"{parts.scheme}://{parts.netloc}/healthz"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)) as http,
                http.get(health, allow_redirects=False) as response,
            ):
                self._server_time(health, response.headers.get("Date"))
                body = await response.json(content_type=None) if response.status in {200, 503} else None
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError, ValueError) as exc:
            return Finding(
                check,
                Status.FAIL,
                f"no vipbot answers at {health} ({type(exc).__name__}): is `vipbot serve` running, and does "
                f"{variable} point at it?",
            )
        if not isinstance(body, dict) or "database" not in body:
            return Finding(
                check, Status.FAIL, f"{health} answered {response.status} but not as vipbot: check {variable}"
            )
        if response.status != 200:
            return Finding(check, Status.FAIL, f"vipbot at {url} answers, but its database does not")
        return Finding(check, Status.OK, f"{url} answers")

    # -- Slack ---------------------------------------------------------------------------------------------

    async def slack(self) -> list[Finding]:
        from bot.adapters.slack.gateway import token_identity

        settings = self.settings
        tokens: dict[str, tuple[str, Secret[str]]] = {}  # workspace → (where the token came from, token)
        findings: list[Finding] = []
        if settings.slack_bot_token is not None:
            token = Secret(settings.slack_bot_token.get_secret_value())
            finding, identity = await self._auth_test("SLACK_BOT_TOKEN", token, token_identity)
            findings.append(finding)
            if identity is not None:
                tokens[identity] = ("SLACK_BOT_TOKEN", token)
        linked = await self._linked(Platform.SLACK)
        for workspace in linked:
            if workspace in tokens:
                continue
            installation = await self._installation(workspace)
            if installation is None:
                findings.append(
                    Finding(
                        "slack",
                        Status.FAIL,
                        f"workspace {workspace} is linked but vipbot has no token for it: install the app there "
                        "(`vipbot slack install-url ORG`) or set SLACK_BOT_TOKEN",
                    )
                )
                continue
            finding, _ = await self._auth_test(f"workspace {workspace}", installation, token_identity)
            findings.append(finding)
        if not findings:
            findings.append(Finding("slack", Status.SKIP, "not configured (see docs/slack.md)"))
        return findings

    async def _auth_test(
        self,
        label: str,
        token: Secret[str],
        token_identity: Callable[[str, Secret[str]], Awaitable[TokenIdentity]],
    ) -> tuple[Finding, str | None]:
        from bot.adapters.slack.manifest import BOT_SCOPES

        api = self.settings.slack_api_url
        try:
            identity = await token_identity(api, token)
        except DeliveryError as exc:
            return Finding("slack", Status.FAIL, f"{label}: {_slack_problem(exc, api)}"), None
        if identity.server_time is not None:
            self.server_times.append(("Slack", identity.server_time))
        where = f"{label}: workspace {identity.team_id} ({identity.team_name})"
        if identity.scopes is None:
            return Finding(
                "slack", Status.WARN, f"{where}: Slack did not say which scopes the token has"
            ), None
        missing = sorted(set(BOT_SCOPES) - identity.scopes)
        if missing:
            return (
                Finding(
                    "slack",
                    Status.FAIL,
                    f"{where}: the token lacks the scopes {', '.join(missing)}: update the app from "
                    "`vipbot slack manifest` and reinstall it in the workspace",
                ),
                identity.team_id,
            )
        return Finding("slack", Status.OK, f"{where}: token valid, every scope present"), identity.team_id

    async def _linked(self, platform: Platform) -> list[str]:
        if self.engine is None:
            return []
        from bot.storage.operations import linked_workspaces

        try:
            return [workspace for _org, workspace in await linked_workspaces(self.engine, platform)]
        except Exception:
            return []

    async def _installation(self, workspace: str) -> Secret[str] | None:
        if self.engine is None or key_info(self.settings).source is KeySource.NONE:
            return None
        from bot.adapters.slack.service import master_key_of
        from bot.settings import ensure_secret_key
        from bot.storage.db import session_factory
        from bot.storage.slack_installations import SqlSlackInstallations

        settings = ensure_secret_key(self.settings)
        installations = SqlSlackInstallations(session_factory(self.engine), master_key_of(settings))
        installation = await installations.find(workspace)
        return installation.bot_token if installation is not None else None

    # -- Teams ---------------------------------------------------------------------------------------------

    async def teams(self) -> list[Finding]:
        from bot.adapters.teams import credentials_of
        from bot.adapters.teams.gateway import TokenSource

        settings = self.settings
        credentials = credentials_of(settings)
        if credentials is None:
            if settings.teams_enabled:
                return [
                    Finding(
                        "teams",
                        Status.SKIP,
                        "no MICROSOFT_APP_ID: Teams takes unauthenticated local traffic only (development)",
                    )
                ]
            return [Finding("teams", Status.SKIP, "off")]
        login = settings.teams_login_url.rstrip("/")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)) as http:
            try:
                await TokenSource(credentials, http).header()
            except DeliveryError as exc:
                if exc.kind is DeliveryFailureKind.PERMANENT:
                    advice = (
                        "check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TYPE and _TENANT_ID"
                    )
                else:
                    advice = "check the network (or VIPBOT_TEAMS_LOGIN_URL)"
                return [Finding("teams", Status.FAIL, f"{exc.reason} at {login}: {advice}")]
        return [Finding("teams", Status.OK, f"app {credentials.app_id}: {login} issued a token")]

    # -- SMTP ----------------------------------------------------------------------------------------------

    async def smtp(self) -> list[Finding]:
        settings = self.settings
        if not settings.smtp_host:
            return [
                Finding(
                    "smtp",
                    Status.SKIP,
                    "not configured: counsellors get no digest e-mail (set VIPBOT_SMTP_HOST and VIPBOT_SMTP_FROM)",
                )
            ]
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        if not settings.smtp_from:
            return [Finding("smtp", Status.FAIL, f"{where}: VIPBOT_SMTP_FROM is not set")]
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host, port=settings.smtp_port, timeout=SMTP_TIMEOUT_S, start_tls=False
        )
        step = "connect"
        try:
            await client.connect()
            if settings.smtp_starttls:
                step = "STARTTLS"
                await client.starttls()
            if settings.smtp_username:
                step = "login"
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                await client.login(settings.smtp_username, password)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            problem = f"{where}: {step} failed ({type(exc).__name__}): {_smtp_advice(step)}"
            return [Finding("smtp", Status.FAIL, problem)]
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        steps = (("STARTTLS", settings.smtp_starttls), ("login", bool(settings.smtp_username)))
        done = " + ".join(name for name, on in steps if on)
        return [Finding("smtp", Status.OK, f"{where}: connected" + (f", {done}" if done else ""))]

    # -- clock ---------------------------------------------------------------------------------------------

    def clock(self) -> list[Finding]:
        now = self.now()
        if now.year < EARLIEST_SANE_YEAR:
            problem = f"this machine says it is {now:%Y-%m-%d}: set the clock (NTP)"
            return [Finding("clock", Status.FAIL, problem)]
        for name, theirs in self.server_times:
            skew = (now - theirs).total_seconds()
            if abs(skew) > CLOCK_SKEW_WARNING_S:
                return [
                    Finding(
                        "clock",
                        Status.WARN,
                        f"this machine's clock is {skew:+.0f} s off {name}'s: authenticator codes and Slack "
                        "signatures fail; synchronise it (NTP)",
                    )
                ]
        compared = ", ".join(sorted({name for name, _ in self.server_times}))
        agrees = f", agrees with {compared}" if compared else ""
        return [Finding("clock", Status.OK, f"{now:%Y-%m-%d %H:%M} UTC{agrees}")]

    def _server_time(self, name: str, header: str | None) -> None:
        from email.utils import parsedate_to_datetime

        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.server_times.append((name, parsedate_to_datetime(header)))


def _slack_problem(exc: DeliveryError, api_url: str) -> str:
    if exc.kind is DeliveryFailureKind.RATE_LIMITED:
        return f"Slack is rate limiting this token; run the doctor again in {exc.retry_after or 60:.0f} s"
    if exc.kind is DeliveryFailureKind.TRANSIENT:
        return f"cannot reach Slack at {api_url} ({exc.reason}); check the network or SLACK_API_URL"
    return f"Slack refused the token ({exc.reason}): create a new bot token or reinstall the app"


def _smtp_advice(step: str) -> str:
    if step == "connect":
        return "check VIPBOT_SMTP_HOST, VIPBOT_SMTP_PORT and the firewall"
    if step == "STARTTLS":
        return "the server does not offer STARTTLS; use port 587, or VIPBOT_SMTP_STARTTLS=false for a local relay"
    return "check VIPBOT_SMTP_USERNAME and VIPBOT_SMTP_PASSWORD"
