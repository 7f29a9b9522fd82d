"""The content-free digest, sent through a real SMTP conversation with a local sink."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Classification, Mode
from bot.mail.digest import send_due_digests
from bot.settings import Settings
from tests.doubles.smtp_sink import SmtpSink, smtp_env, smtp_sink  # noqa: F401 - fixture
from tests.portal.support import practice


def with_smtp(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_validate({**settings.model_dump(by_alias=True), **smtp_env(sink)})


async def test_digest_is_content_free_batched_and_retried(
    services: Services,
    clock: FixedClock,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    settings = with_smtp(services.settings, smtp_sink)
    p = await practice(services)
    translator = services.content.translator
    assert await send_due_digests(services.engine, settings, clock, translator) == 0  # nothing to tell

    # The legal clock runs from the conversation's first message: a week ago, so acknowledging is due today.
    now = clock.now()
    clock.advance(-timedelta(days=6))
    conv_id, _code = await p.channel.service.start(
        p.org.id, 90, Mode.PSEUDONYMOUS, "CANARY-digest-text", "Sam"
    )
    clock.set(now)
    await p.channel.store.classify(
        p.org.id, conv_id, Classification("integrity", "advice", "whistleblowing-report"), now.date()
    )
    assert await send_due_digests(services.engine, settings, clock, translator) == 2  # counsellor and deputy
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == ["daan@vp.test", "mira@vp.test"]
    body = smtp_sink.received[0].message.get_content()
    assert "wacht 1 gesprek met nieuwe berichten" in body
    assert "1 wettelijke termijn van de klokkenluidersregeling verloopt" in body
    assert "http://vipbot.test/console/inbox\r\n" in body  # the page that finds the waiting organisation
    for secret in (b"CANARY", b"Sam", b"Zorggroep", b"de-linde", str(conv_id).encode()):
        assert secret not in smtp_sink.all_bytes()

    # Within the interval nothing more goes out, even with new activity.
    await p.channel.service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "meer", 1)
    clock.advance(timedelta(hours=23))
    assert await send_due_digests(services.engine, settings, clock, translator) == 0
    # A refusing server: the slot is released and the digest goes out on a later round.
    smtp_sink.refuse = True
    clock.advance(timedelta(hours=2))
    assert await send_due_digests(services.engine, settings, clock, translator) == 0
    smtp_sink.refuse = False
    assert await send_due_digests(services.engine, settings, clock, translator) == 2
    assert len(smtp_sink.received) == 4


async def test_housekeeping_round_erases_expired_and_sends_due_digests(
    services: Services,
    clock: FixedClock,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    from bot.app import Services as ServicesType
    from bot.web.portal.maintenance import run_once

    configured = ServicesType(
        settings=with_smtp(services.settings, smtp_sink),
        clock=clock,
        engine=services.engine,
        content=services.content,
    )
    p = await practice(configured, deputy=False)
    await p.channel.service.start(p.org.id, 30, Mode.ANONYMOUS, "Oud")
    clock.advance(timedelta(days=29))
    await p.channel.service.start(p.org.id, 30, Mode.ANONYMOUS, "Nieuw")
    clock.advance(timedelta(days=2))
    assert await run_once(configured) == (1, 1)
    assert len(smtp_sink.received) == 1
    assert await run_once(configured) == (0, 0)
