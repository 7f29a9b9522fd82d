"""The counsellor's digest: at most one e-mail per `VIPBOT_DIGEST_HOURS`, and only when there is something.

Content-free by design: no text, no organisation, no dates of messages, no link to a conversation — only how
many conversations wait for the counsellor and how many legal whistleblowing deadlines need attention, and
the console's address. Sent at a fixed rhythm, never per message, so its timing says little.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.clock import Clock
from bot.domain.conversations import today_in
from bot.domain.i18n import Translator
from bot.logs import get_logger
from bot.mail.smtp import MailError, mail_configured, send_mail
from bot.settings import Settings
from bot.storage.conversations import SqlConversationStore
from bot.storage.db import session_factory

log = get_logger(__name__)
DEADLINE_WARNING = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Digest:
    waiting: int
    deadlines: int

    @property
    def empty(self) -> bool:
        return self.waiting == 0 and self.deadlines == 0


def compose(digest: Digest, translator: Translator, console_url: str) -> tuple[str, str]:
    parts = []
    for locale in ("nl", "en"):
        lines = [translator.t(locale, "email.digest.greeting")]
        if digest.waiting:
            lines.append(translator.t(locale, "email.digest.waiting", count=digest.waiting))
        if digest.deadlines:
            lines.append(translator.t(locale, "email.digest.deadlines", count=digest.deadlines))
        lines.append(translator.t(locale, "email.digest.where", url=console_url))
        lines.append(translator.t(locale, "email.digest.why_no_content"))
        parts.append("\n\n".join(lines))
    return translator.t("nl", "email.digest.subject"), "\n\n-- \n\n".join(parts) + "\n"


async def digest_for(store: SqlConversationStore, counsellor_id: UUID, clock: Clock) -> Digest:
    today = today_in(clock)
    waiting = deadlines = 0
    for summary in await store.inbox(counsellor_id):
        if summary.unread_for_counsellor:
            waiting += 1
        if summary.whistleblowing is not None:
            deadlines += sum(
                1 for _what, by, _late in summary.whistleblowing.due(today) if by - today <= DEADLINE_WARNING
            )
    return Digest(waiting, deadlines)


async def send_due_digests(
    engine: AsyncEngine, settings: Settings, clock: Clock, translator: Translator
) -> int:
    """Send every digest that is due; returns how many went out. Safe with several replicas (compare-and-set)."""
    if not mail_configured(settings):
        return 0
    store = SqlConversationStore(session_factory(engine))
    now = clock.now()
    interval = timedelta(hours=settings.digest_hours)
    sent = 0
    for counsellor, previous in await store.digest_candidates():
        if not counsellor.email:
            continue
        if previous is not None:
            last = previous if previous.tzinfo else previous.replace(tzinfo=now.tzinfo)
            if now - last < interval:
                continue
        digest = await digest_for(store, counsellor.id, clock)
        if digest.empty:
            continue
        if not await store.claim_digest(counsellor.id, previous, now):
            continue
        # /console/inbox leads to the one organisation with waiting conversations (or to the console's home,
        # which lists them all): the mail itself names none.
        subject, body = compose(digest, translator, f"{settings.public_base_url}/console/inbox")
        try:
            await send_mail(settings, counsellor.email, subject, body)
        except MailError:
            await store.release_digest(counsellor.id, previous)
            log.warning("digest: the SMTP server did not take a digest; it is tried again later")
            continue
        sent += 1
    return sent
