"""The "count me in" and "withdraw" buttons of team sessions on Slack.

The sign-up is written before Slack's request is acknowledged (work after the ack is lost if the process dies);
the person then gets an ephemeral confirmation (only they see it, with a withdraw button) and the post's count is
updated in place. Nothing names the person: the store keeps a keyed hash, the post shows a number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.blocks import escape
from bot.adapters.slack.render_sessions import session_blocks, session_fallback
from bot.domain.i18n import Translator
from bot.domain.team_sessions import (
    SIGNUP_ACTION,
    WITHDRAW_ACTION,
    SignupState,
    TeamSession,
    TeamSessionStore,
    ics_link,
    person_of,
)
from bot.domain.tenancy import Organisation, Platform
from bot.logs import get_logger

log = get_logger(__name__)


def _parse(value: str) -> tuple[bool, UUID, str | None, str | None, str | None]:
    """(is a reminder, session id, original channel, original ts, the post's language) from a button value:
    "a:<session>|<channel>|<ts>|<locale>", channel and ts empty on the post itself (older posts: "a:<session>")."""
    parts = value.split("|")
    flag, _, session = parts[0].partition(":")
    channel = (parts[1] or None) if len(parts) > 2 else None
    ts = (parts[2] or None) if len(parts) > 2 else None
    locale = (parts[3] or None) if len(parts) > 3 else None
    return flag == "r", UUID(session), channel, ts, locale


def register_session_actions(
    bolt: AsyncApp,
    store: TeamSessionStore,
    organisation_of: Callable[[UUID], Awaitable[Organisation]],
    translator: Translator,
    public_base_url: str,
) -> None:
    async def answer(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, withdraw: bool) -> None:
        team = str((body.get("team") or {}).get("id") or body["user"].get("team_id"))
        user = str(body["user"]["id"])
        try:
            reminder, session_id, channel, ts, posted_in = _parse(str(body["actions"][0].get("value", "")))
        except (ValueError, KeyError, IndexError):
            await ack()
            return
        session = await store.session_for_member(Platform.SLACK.value, team, session_id)
        if session is None or session.cancelled:
            await ack()
            await _ephemeral(client, body, user, [SectionBlock(text=translator.t(None, "sessions.closed"))])
            return
        person = person_of(Platform.SLACK.value, team, user)
        if withdraw:
            state = await store.withdraw(session.organisation_id, session.id, person)
        else:
            state = await store.sign_up(session.organisation_id, session.id, person)
        await ack()
        # The language the post was sent in (its button says), so an update never switches it.
        locale = posted_in or session.locale or (await organisation_of(session.organisation_id)).locale
        container = body.get("container") or {}
        if channel is None:  # the click came from the post itself
            channel, ts = container.get("channel_id"), container.get("message_ts")
        if channel and ts:
            await _update_count(
                client, translator, session, state, str(channel), str(ts), locale, reminder, public_base_url
            )
        await _ephemeral(
            client, body, user, _confirmation(translator, session, state, locale, reminder, channel, ts)
        )

    async def signup(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await answer(ack, body, client, withdraw=False)

    async def withdraw(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await answer(ack, body, client, withdraw=True)

    bolt.action(SIGNUP_ACTION)(signup)
    bolt.action(WITHDRAW_ACTION)(withdraw)


def _confirmation(
    t: Translator,
    session: TeamSession,
    state: SignupState,
    locale: str,
    reminder: bool,
    channel: str | None,
    ts: str | None,
) -> list[Any]:
    if not state.signed_up:
        return [
            SectionBlock(
                text=MarkdownTextObject(text=escape(t.t(locale, "sessions.withdrawn", title=session.title)))
            )
        ]
    value = f"{'r' if reminder else 'a'}:{session.id}|{channel or ''}|{ts or ''}|{locale}"
    return [
        SectionBlock(
            text=MarkdownTextObject(text=escape(t.t(locale, "sessions.signed_up", title=session.title)))
        ),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=t.t(locale, "sessions.withdraw_button"), action_id=WITHDRAW_ACTION, value=value
                )
            ]
        ),
    ]


async def _ephemeral(client: AsyncWebClient, body: dict[str, Any], user: str, blocks: list[Any]) -> None:
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id") or user
    fallback = next((b.text.text for b in blocks if isinstance(b, SectionBlock) and b.text is not None), "")
    try:
        await client.chat_postEphemeral(
            channel=str(channel), user=user, text=str(fallback), blocks=[b.to_dict() for b in blocks]
        )
    except SlackApiError as exc:
        log.warning("session confirmation not shown", error=str(exc.response.get("error")))


async def _update_count(
    client: AsyncWebClient,
    t: Translator,
    session: TeamSession,
    state: SignupState,
    channel: str,
    ts: str,
    locale: str,
    reminder: bool,
    public_base_url: str,
) -> None:
    blocks = session_blocks(
        t, session, state.count, ics_link(public_base_url, session.id), locale, reminder=reminder
    )
    try:
        await client.chat_update(
            channel=channel,
            ts=ts,
            blocks=[b.to_dict() for b in blocks],
            text=session_fallback(t, session, locale, reminder=reminder),
        )
    except SlackApiError as exc:
        log.warning("session post count not updated", error=str(exc.response.get("error")))
