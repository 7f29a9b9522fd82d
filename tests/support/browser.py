"""Real Chromium (Debian's package) through Playwright, and the app served on a free loopback port.

Use in a test module or conftest::

    from tests.support.browser import browser, page, serve_app  # noqa: F401  (fixtures)

    async def test_x(page, services):
        async with serve_app(build_app(services, features=[...])) as base_url:
            await page.goto(base_url + "/console/login")

Each test process starts one headless Chromium (`shared_chromium`: Chromium's headless shell, its profile
folder under pytest's temporary folder) and every test connects to it over the DevTools protocol: starting a
browser per test cost seconds of CPU each, on a machine where the tests share two cores. Nothing leaks between
tests: `browser` is a connection of its own, every context a test opens on it is a fresh incognito-like context
(no cookies, storage or cache shared with another context), and closing the connection closes them all. A
browser that died (crash, killed) is started again for the next test. `page` is a fresh context and page, with
JavaScript errors collected in `page.errors` (a test can assert there were none). A test about what Chromium
writes into its own profile (tests/portal/test_browser_profile.py) launches its own (full) browser on its own
folder instead.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# What Playwright itself passes when it launches Chromium headless (its `chromiumSwitches`), for the switches that
# change how pages behave: the shared browser must behave as a browser Playwright launched would.
_HEADLESS_ARGS = [
    "--headless",
    "--hide-scrollbars",
    "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4",
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-component-extensions-with-background-pages",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-features=AcceptCHFrame,AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,"
    "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,"
    "ThirdPartyStoragePartitioning,AvoidCorsURLLoaderRestartOnRedirect,OptimizationHints,"
    "NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch",
    "--allow-pre-commit-input",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--no-service-autorun",
    "--disable-search-engine-choice-screen",
    "--no-startup-window",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: run scripts/ensure-chromium (or `make test`)")


def headless_shell_path() -> str:
    """Chromium's headless shell (Debian's `chromium-headless-shell`): the same Blink and V8 as `chromium`,
    without the desktop browser around them, and what Playwright itself runs for headless Chromium. The shared
    browser uses it: a page costs it less than half the CPU of the full browser in `--headless` mode. Falls back
    to the full browser where the shell is not installed (scripts/ensure-chromium installs both)."""
    # Debian's /usr/bin/chromium-headless-shell is a shell script that starts the binary without `exec`: stopping
    # the script would leave the browser running, so the binary itself is started.
    binary = Path("/usr/lib/chromium/chromium-headless-shell")
    if binary.is_file():
        return str(binary)
    return shutil.which("chromium-headless-shell") or chromium_path()


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 on a free port in this event loop; yields the base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    assert server.sockets
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class SharedChromium:
    """One headless Chromium for this test process, listening for DevTools on a free loopback port.

    `endpoint()` gives the address to connect to, starting the browser first when it is not running (not yet,
    or it died); each start gets a new profile folder under `folder`.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._endpoint = ""

    def endpoint(self) -> str:
        if self._process is None or self._process.poll() is not None:
            self._start()
        return self._endpoint

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start(self, timeout: float = 60.0) -> None:
        self.stop()
        self._starts += 1
        profile = self._folder / f"profile-{self._starts}"
        profile.mkdir()
        with (self._folder / f"chromium-{self._starts}.log").open("wb") as log:
            # the port Chromium picked is in DevToolsActivePort in its profile folder: no fixed port
            self._process = subprocess.Popen(
                [
                    headless_shell_path(),
                    *CHROMIUM_ARGS,
                    *_HEADLESS_ARGS,
                    f"--user-data-dir={profile}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        active_port = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            lines = active_port.read_text().split() if active_port.exists() else []
            if len(lines) == 2:
                self._endpoint = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Chromium did not start: see {self._folder}")


def shared_chromium_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedChromium]:
    """The body of the session fixture `shared_chromium` (tests/conftest.py: one definition, so one browser)."""
    chromium = SharedChromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.stop()


@pytest.fixture
async def browser(shared_chromium: SharedChromium) -> AsyncIterator[Browser]:
    # `is_local`: the browser runs on this machine and reads the files a test gives a file input from their path,
    # as it does for a file someone picks. Otherwise Playwright sends each file's bytes into the page as base64
    # and Chromium spends seconds of CPU on a file of a few megabytes (about 2 s for 5 MB, 20 s for 20 MB).
    async with async_playwright() as playwright:
        try:
            connected = await playwright.chromium.connect_over_cdp(
                shared_chromium.endpoint(), timeout=30_000, is_local=True
            )
        except PlaywrightError:  # alive but not answering: a new browser
            shared_chromium.restart()
            connected = await playwright.chromium.connect_over_cdp(
                shared_chromium.endpoint(), timeout=30_000, is_local=True
            )
        try:
            yield connected
        finally:
            # closes every context this test opened (and so its pages, cookies and storage)
            with contextlib.suppress(PlaywrightError):
                await connected.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors  # type: ignore[attr-defined]
    try:
        yield opened
    finally:
        with contextlib.suppress(PlaywrightError):  # gone with a browser that died in the test
            await context.close()
