"""Console doors under abuse: a changed secret key, parallel password guesses, the inbox at sign-out."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import timedelta

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.security import Secret, totp_code
from bot.web import console
from bot.web.console.auth import CONSOLE, Console
from tests.console.helpers import csrf_from, form_token, make_person, other_browser, sign_in


async def test_a_changed_secret_key_leads_to_enrolling_again_not_to_an_error(
    console_services: Services, clock: FixedClock
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    rotated = console_services.settings.model_copy(
        update={"secret_key": SecretStr("a rotated secret key of 32+ characters")}
    )
    services = Services(
        settings=rotated,
        clock=clock,
        engine=console_services.engine,
        content=console_services.content,
        password_policy=console_services.password_policy,
    )
    app = build_app(services, features=[console.install])
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        token = await form_token(c, "/console/login")
        response = await c.post(
            "/console/login",
            data={"email": admin.email, "password": admin.password, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.headers["Location"].endswith("/console/login/authenticator")
        page = await c.get("/console/login/authenticator")
        assert page.status == 200
        html = await page.text()
        secret_text = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
        assert secret_text
        secret = Secret(base64.b32decode(secret_text.group(1) + "=" * (-len(secret_text.group(1)) % 8)))
        sealed = re.search(r'name="sealed" value="([^"]+)"', html)
        assert sealed
        done = await c.post(
            "/console/login/authenticator",
            data={
                "sealed": sealed.group(1),
                "code": totp_code(secret, clock.now().timestamp()),
                "csrf_token": csrf_from(html),
            },
            allow_redirects=False,
        )
        assert done.status == 303
        assert (await c.get("/console/")).status == 200


async def test_a_changed_secret_key_on_the_code_step_leads_to_enrolling_again(
    console_services: Services, clock: FixedClock
) -> None:
    """A browser that reached the code step just before the key changed is sent to enrol, not shown a 500."""
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    async with TestClient(
        TestServer(build_app(console_services, features=[console.install]), host="127.0.0.1")
    ) as c:
        token = await form_token(c, "/console/login")
        response = await c.post(
            "/console/login",
            data={"email": admin.email, "password": admin.password, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.headers["Location"].endswith("/console/login/code")
        token = await form_token(c, "/console/login/code")
        # the operator changes the key: the sealed authenticator secret no longer opens
        for sub in c.app._subapps:
            if CONSOLE in sub:
                sub[CONSOLE].secret_key = b"another secret key, 32 characters long"
        assert admin.totp is not None
        code = totp_code(admin.totp, clock.now().timestamp())
        answer = await c.post(
            "/console/login/code", data={"code": code, "csrf_token": token}, allow_redirects=False
        )
        assert answer.status == 303
        assert answer.headers["Location"].endswith("/console/login/authenticator")


ALLOWED_IN_A_ROW = 5  # bot.web.console.throttle.PER_CLIENT.free


def _console_state(app: web.Application) -> Console:
    for sub in app._subapps:
        if CONSOLE in sub:
            return sub[CONSOLE]
    raise AssertionError("console not mounted")


async def test_parallel_guesses_cost_at_most_the_allowance_and_cannot_lock_the_owner_out(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    # the owner's own browser signed in before: it holds a device cookie for the account
    await sign_in(client, viewer, clock)
    await client.post("/console/logout", data={"csrf_token": await form_token(client, "/console/")})
    state = _console_state(client.app)
    async with other_browser(client) as attacker:
        token = await form_token(attacker, "/console/login")
        before = state.password_checks

        async def guess(n: int) -> int:
            response = await attacker.post(
                "/console/login",
                data={"email": viewer.email, "password": f"wrong guess {n:04d}!", "csrf_token": token},
                allow_redirects=False,
            )
            return response.status

        statuses = await asyncio.gather(*(guess(n) for n in range(50)))
        assert len(statuses) == 50
        assert state.password_checks - before <= ALLOWED_IN_A_ROW
        # the attacker's client now waits, even with the right password, and no hash is computed for it
        checks = state.password_checks
        refused = await attacker.post(
            "/console/login", data={"email": viewer.email, "password": viewer.password, "csrf_token": token}
        )
        assert refused.status == 401
        assert state.password_checks == checks
    # the owner, in their own browser, signs in at once
    token = await form_token(client, "/console/login")
    mine = await client.post(
        "/console/login",
        data={"email": viewer.email, "password": viewer.password, "csrf_token": token},
        allow_redirects=False,
    )
    assert mine.status == 303
    assert (await client.get("/console/")).status == 200


async def _password_step(c: TestClient | ClientSession, email: str, password: str) -> str:
    token = await form_token(c, "/console/login")
    response = await c.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303
    return response.headers["Location"]


async def test_a_management_viewer_may_add_a_second_factor_and_then_needs_it(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    await sign_in(client, viewer, clock)
    home = await (await client.get("/console/")).text()
    assert "/console/account/authenticator" in home  # offered
    token = await form_token(client, "/console/account/authenticator")
    started = await client.post(
        "/console/account/authenticator", data={"csrf_token": token}, allow_redirects=False
    )
    assert started.headers["Location"].endswith("/console/login/authenticator")
    page = await (await client.get("/console/login/authenticator")).text()
    secret = _secret_on(page)
    sealed = re.search(r'name="sealed" value="([^"]+)"', page)
    assert sealed
    done = await client.post(
        "/console/login/authenticator",
        data={
            "sealed": sealed.group(1),
            "code": totp_code(secret, clock.now().timestamp()),
            "csrf_token": csrf_from(page),
        },
        allow_redirects=False,
    )
    assert done.status == 303
    await client.post("/console/logout", data={"csrf_token": await form_token(client, "/console/")})
    clock.advance(timedelta(seconds=30))
    assert (await _password_step(client, viewer.email, viewer.password)).endswith("/console/login/code")


async def test_an_organisation_may_require_a_second_factor_of_its_viewers(
    client: TestClient, console_services: Services, org_a: Organisation, org_b: Organisation
) -> None:
    from bot.storage.console_policy import SqlConsolePolicy

    required = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    free = await make_person(console_services, Role.VIEWER, "mt@noord.test", org_b.id)
    await SqlConsolePolicy(console_services.engine).set_requires_totp(org_a.id, True)
    assert (await _password_step(client, required.email, required.password)).endswith(
        "/console/login/authenticator"
    )
    # not signed in yet: the console stays closed until the authenticator is set up
    assert (await client.get("/console/o/de-linde/insights", allow_redirects=False)).status == 303
    async with other_browser(client) as other:
        assert not (await _password_step(other, free.email, free.password)).endswith("/authenticator")  # type: ignore[arg-type]


def _secret_on(page: str) -> Secret[bytes]:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert found
    text = found.group(1)
    return Secret(base64.b32decode(text + "=" * (-len(text) % 8)))


async def test_a_refused_sign_in_is_a_redirect_so_no_page_holds_the_password(
    client: TestClient, console_services: Services, org_a: Organisation
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    token = await form_token(client, "/console/login")
    refused = await client.post(
        "/console/login",
        data={"email": viewer.email, "password": "not the password", "csrf_token": token},
        allow_redirects=False,
    )
    assert refused.status == 303
    page = await client.get(refused.headers["Location"])
    assert page.status == 401
    html = await page.text()
    assert 'role="alert"' in html
    assert viewer.email in html  # the address typed is kept, the password is not
    reload = await client.get(refused.headers["Location"])
    assert reload.status == 200
