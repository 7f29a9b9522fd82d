"""The Teams conversation logic: install/uninstall bookkeeping and the personal chat as a front door.

Slack and Teams are doors, never rooms: whatever a person types is read only to see whether it is one of the
bot's command words, then dropped. It is never stored, logged, echoed or forwarded; the answer is a card that
explains why and links to the portal (the same link for everybody in the organisation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Any

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    DeliveryModes,
    InvokeResponse,
)
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.header_propagation import HeaderPropagationContext

from bot.adapters.teams.cards import (
    ACTION_KEY,
    ADAPTIVE_CARD,
    HELP,
    LOCALE_KEY,
    SESSIONS,
    SOCIAL_MAP,
    TALK,
    Card,
    CardKit,
)
from bot.adapters.teams.clients import ConnectorClients, paged_members
from bot.adapters.teams.submits import CardSubmit, ClickAnswer, SubmitAnswer, SubmitRoutes, Transient
from bot.cache import TtlCache
from bot.domain.content import pick_locale
from bot.domain.delivery import portal_link
from bot.domain.home import HomeInfo
from bot.domain.teams_references import TeamsReference, TeamsReferences, TeamsScope
from bot.domain.tenancy import Organisation
from bot.errors import PlatformError
from bot.logs import get_logger

log = get_logger(__name__)

_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)
_VP_PREFIX = re.compile(r"^/?(vp\b)?\s*/?")
_SCOPES = {"personal": TeamsScope.PERSONAL, "channel": TeamsScope.CHANNEL, "groupChat": TeamsScope.GROUP_CHAT}

HomeLoader = Callable[[Organisation], Any]  # async: Organisation -> HomeInfo

# Every message would otherwise cost two database reads before the card is sent. Tenants are linked by an
# operator (a new link shows within this time); references only ever disappear through uninstall events,
# which clear this process's cache (another replica re-saves a reference at most this late).
TENANT_CACHE_SECONDS = 30.0
KNOWN_REFERENCE_SECONDS = 300.0
_CACHE_LIMIT = 10_000
ROSTER_LIMIT = 20_000  # people read from one team's roster at install
# Teams sends its two install events within milliseconds of each other; a greeting waits at most this long for the
# other's locale (only when its own event has none and the chat's language is not known yet).
SIBLING_EVENT_SECONDS = 2.0


def reference_from(activity: Activity) -> TeamsReference | None:
    """The conversation reference of an incoming activity, or None when it is not a Teams conversation we serve."""
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url or activity.recipient is None:
        return None
    channel_data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant_id = (channel_data.get("tenant") or {}).get("id") or conversation.tenant_id
    scope = _SCOPES.get(conversation.conversation_type or "personal")
    if not tenant_id or scope is None:
        return None
    team = channel_data.get("team") or {}
    channel = channel_data.get("channel") or {}
    return TeamsReference(
        scope=scope,
        tenant_id=str(tenant_id),
        service_url=str(activity.service_url),
        bot_id=str(activity.recipient.id),
        # A channel thread's id carries ";messageid=…": posts go to the channel itself.
        conversation_id=str(conversation.id).split(";", 1)[0],
        user_id=activity.from_property.id
        if scope is TeamsScope.PERSONAL and activity.from_property
        else None,
        team_id=team.get("id") if scope is TeamsScope.CHANNEL else None,
        team_name=team.get("name") if scope is TeamsScope.CHANNEL else None,
        channel_name=(channel.get("name") or conversation.name) if scope is not TeamsScope.PERSONAL else None,
        locale=activity.locale,
    )


class VipTeamsBot:
    """The Agents SDK `Agent`: one `on_turn` for every activity Teams sends."""

    def __init__(
        self,
        store: TeamsReferences,
        kit: CardKit,
        home: HomeLoader,
        portal_base_url: str,
        submits: SubmitRoutes | None = None,
        clients: ConnectorClients | None = None,
    ) -> None:
        self._store = store
        self._clients = clients
        self._submits = submits or SubmitRoutes()
        self._kit = kit
        self._home = home
        self._portal_base_url = portal_base_url
        self._commands = kit.command_words()
        self._tenants: TtlCache[str, Organisation | None] = TtlCache(TENANT_CACHE_SECONDS, _CACHE_LIMIT)
        self._known: dict[str, float] = {}
        self._locales: dict[str, str] = {}  # address -> the personal chat's language
        self._locale_known: dict[str, asyncio.Event] = {}  # a greeting waiting for its sibling event's locale
        self._background: set[asyncio.Task[None]] = set()

    async def _organisation(self, tenant_id: str) -> Organisation | None:
        return await self._tenants.get(tenant_id, lambda: self._store.organisation_for_tenant(tenant_id))

    async def _remember(self, organisation: Organisation, reference: TeamsReference) -> None:
        """Store the reference of a conversation the bot hears from, unless it is known already."""
        address = self._store.address_of(reference)
        now = time.monotonic()
        if self._known.get(address, 0.0) > now:
            return
        if not await self._store.exists(address):
            await self._store.save(organisation.id, reference)
        if len(self._known) >= _CACHE_LIMIT:
            self._known.clear()
        self._known[address] = now + KNOWN_REFERENCE_SECONDS

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity: Activity = turn_context.activity
        if activity.type == ActivityTypes.installation_update:
            action = str(activity.action or "")
            if action.startswith("add"):
                await self._installed(turn_context, welcome=False)
            elif action.startswith("remove"):
                await self._uninstalled(activity)
        elif activity.type == ActivityTypes.conversation_update:
            bot_id = activity.recipient.id if activity.recipient else None
            added = [m.id for m in activity.members_added or [] if m.id]
            removed = [m.id for m in activity.members_removed or [] if m.id]
            if bot_id in added:
                await self._installed(turn_context, welcome=True)
            elif added:
                await self._members_joined(activity, added)
            if bot_id in removed:
                await self._uninstalled(activity)
            elif removed:
                await self._members_left(activity, removed)
        elif activity.type == ActivityTypes.message:
            await self._message(turn_context)
        elif activity.type == ActivityTypes.invoke:
            response = await self._invoke(turn_context)
            await turn_context.send_activity(
                Activity(type=ActivityTypes.invoke_response, value=response.model_dump(by_alias=True))
            )

    # --- install / uninstall -----------------------------------------------------------------------------

    async def _installed(self, turn_context: TurnContext, *, welcome: bool) -> None:
        activity: Activity = turn_context.activity
        reference = reference_from(activity)
        if reference is None:
            return
        organisation = await self._organisation(reference.tenant_id)
        if organisation is None:
            locale = pick_locale(activity.locale)
            log.warning(
                "teams install from a tenant that is not connected to an organisation; "
                "link it with `vipbot teams connect ORG TENANT`",
                tenant=reference.tenant_id,
            )
            if welcome:
                await _reply(turn_context, self._kit, self._kit.not_connected(locale), locale)
            return
        locale = await self._locale(activity, organisation, reference, opening=welcome)
        if reference.scope is TeamsScope.PERSONAL:
            reference = replace(reference, locale=locale)
        address = await self._store.save(organisation.id, reference)
        self._known[address] = time.monotonic() + KNOWN_REFERENCE_SECONDS
        log.info("teams conversation installed", organisation=organisation.slug, scope=reference.scope.value)
        if reference.scope is not TeamsScope.PERSONAL:
            self._read_roster(turn_context, organisation, reference)
        if not welcome:
            return
        if reference.scope is TeamsScope.PERSONAL:
            home: HomeInfo = await self._home(organisation)
            await _reply(turn_context, self._kit, self._kit.welcome(home, locale), locale)
        else:
            portal = portal_link(self._portal_base_url, organisation.slug)
            await _reply(turn_context, self._kit, self._kit.channel_installed(portal, locale), locale)

    # --- people of a team or group chat: the addresses for their personal chats -----------------------------

    @staticmethod
    def _member(reference: TeamsReference, user_id: str) -> TeamsReference:
        return replace(
            reference,
            scope=TeamsScope.MEMBER,
            conversation_id=None,
            user_id=user_id,
            channel_name=None,
            team_name=None,
            locale=None,
        )

    def _read_roster(
        self, turn_context: TurnContext, organisation: Organisation, reference: TeamsReference
    ) -> None:
        """Remember everybody in the team or group chat the bot was added to, so the scheduler can reach each of
        them in a personal chat (created on first send). Runs after the turn: a large team's roster takes longer
        than Teams waits for an answer."""
        if self._clients is None:
            return
        roster_of = reference.team_id or reference.conversation_id or ""
        task = asyncio.create_task(self._import_roster(roster_of, organisation, reference))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _import_roster(
        self, roster_of: str, organisation: Organisation, reference: TeamsReference
    ) -> None:
        """Bot Connector REST `GET /v3/conversations/{team or chat}/pagedmembers`, 500 people a page."""
        if self._clients is None:
            return
        token: str | None = None
        seen = new = 0
        try:
            client = await self._clients.client(reference.service_url)
            while seen < ROSTER_LIMIT:
                ids, token = await paged_members(client, roster_of, 500, token)
                people = [self._member(reference, member) for member in ids if member != reference.bot_id]
                new += await self._store.save_people(organisation.id, people)
                seen += len(people)
                if not token:
                    break
        except Exception as exc:  # the roster is a bonus: the install itself stands
            log.warning("teams roster could not be read", error_type=type(exc).__name__)
        log.info("teams roster read", organisation=organisation.slug, people=seen, new=new)

    async def drain(self) -> None:
        """Wait for background work (roster imports); for shutdown and tests."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _members_joined(self, activity: Activity, user_ids: list[str]) -> None:
        reference = reference_from(activity)
        if reference is None or reference.scope is TeamsScope.PERSONAL:
            return
        organisation = await self._organisation(reference.tenant_id)
        if organisation is None or not await self._store.exists(self._store.address_of(reference)):
            return  # only for conversations the bot is installed in
        await self._store.save_people(organisation.id, [self._member(reference, u) for u in user_ids])
        log.info("teams members joined", organisation=organisation.slug, people=len(user_ids))

    async def _members_left(self, activity: Activity, user_ids: list[str]) -> None:
        reference = reference_from(activity)
        if reference is None or reference.scope is TeamsScope.PERSONAL:
            return
        removed = 0
        for user_id in user_ids:
            removed += await self._store.remove_member(reference.tenant_id, user_id)
        log.info("teams members left", removed=removed)

    async def _uninstalled(self, activity: Activity) -> None:
        reference = reference_from(activity)
        if reference is None:
            return
        address = self._store.address_of(reference)
        self._known.pop(address, None)
        removed = await self._store.remove(address)
        if reference.team_id:
            self._known.clear()  # the team's other channels are gone too
            removed += await self._store.remove_team(reference.team_id)
        log.info("teams conversation uninstalled", scope=reference.scope.value, removed=removed)

    # --- locale: one language per chat ------------------------------------------------------------------

    async def _locale(
        self,
        activity: Activity,
        organisation: Organisation | None,
        reference: TeamsReference,
        *,
        opening: bool = False,
    ) -> str:
        """One language per personal chat: the one its first card was sent in, remembered with the chat. In
        channels and group chats each reader's own locale (their answers are theirs alone).

        Teams sends the install events (installationUpdate, conversationUpdate) together and often leaves the locale
        out of one of them. The event that greets (`opening`) and has no locale of its own waits a moment for its
        sibling's, so the greeting is in the language of the rest of the chat; the organisation's otherwise."""
        if reference.scope is not TeamsScope.PERSONAL:
            return pick_locale(activity.locale or (organisation.locale if organisation else None))
        address = self._store.address_of(reference)
        chosen = self._locales.get(address)
        if chosen is None:
            stored = await self._store.get(address)
            chosen = stored.reference.locale if stored is not None and stored.reference.locale else None
        if chosen is None and not activity.locale and opening:
            chosen = await self._sibling_locale(address)
        if chosen is None:
            chosen = pick_locale(activity.locale or (organisation.locale if organisation else None))
        if len(self._locales) >= _CACHE_LIMIT:
            self._locales.clear()
        self._locales[address] = chosen
        waiting = self._locale_known.pop(address, None)
        if waiting is not None:
            waiting.set()
        return pick_locale(chosen)

    async def _sibling_locale(self, address: str) -> str | None:
        known = self._locale_known.setdefault(address, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(known.wait(), SIBLING_EVENT_SECONDS)
        self._locale_known.pop(address, None)
        return self._locales.get(address)

    # --- messages: the door ------------------------------------------------------------------------------

    async def _message(self, turn_context: TurnContext) -> None:
        activity: Activity = turn_context.activity
        reference = reference_from(activity)
        if reference is None:
            return
        organisation = await self._organisation(reference.tenant_id)
        if organisation is None:
            locale = pick_locale(activity.locale)
            log.warning("teams message from a tenant that is not connected", tenant=reference.tenant_id)
            await _reply(turn_context, self._kit, self._kit.not_connected(locale), locale)
            return
        locale = await self._locale(activity, organisation, reference)
        await self._remember(organisation, replace(reference, locale=locale))
        portal = portal_link(self._portal_base_url, organisation.slug)
        answer = self._submits.find(activity.value)
        if answer is not None:
            await self._card_submit(turn_context, answer, organisation, reference, locale, portal)
            return
        action, typed = self._action_of(activity)
        content: Card
        if action in {SOCIAL_MAP, SESSIONS}:
            home: HomeInfo = await self._home(organisation)
            content = (
                self._kit.social_map(home, locale)
                if action == SOCIAL_MAP
                else self._kit.sessions(home, locale)
            )
        elif action == HELP:
            content = self._kit.help(portal, locale)
        else:
            content = self._kit.door(portal, locale, typed_text=typed and action != TALK)
        await _reply(turn_context, self._kit, content, locale)

    def _submit_of(
        self,
        activity: Activity,
        value: Mapping[str, Any],
        organisation: Organisation,
        reference: TeamsReference,
        locale: str,
        *,
        execute: bool,
    ) -> CardSubmit | None:
        user_id = activity.from_property.id if activity.from_property else None
        if not user_id:
            return None
        card_locale = value.get(LOCALE_KEY)
        return CardSubmit(
            value=value,
            organisation=organisation,
            tenant_id=reference.tenant_id,
            user_id=str(user_id),
            address=self._store.address_of(reference),
            personal=reference.scope is TeamsScope.PERSONAL,
            # the answer is in the clicked card's language (older cards do not say: the reader's)
            locale=pick_locale(card_locale) if isinstance(card_locale, str) else locale,
            portal_url=portal_link(self._portal_base_url, organisation.slug),
            execute=execute,
        )

    async def _card_submit(
        self,
        turn_context: TurnContext,
        answer: SubmitAnswer,
        organisation: Organisation,
        reference: TeamsReference,
        locale: str,
        portal: str,
    ) -> None:
        """An Action.Submit button of a feature's card (cards sent before Universal Actions): that feature answers
        it. A card answer replaces the clicked card; a transient notice has no Action.Submit form and is dropped."""
        activity: Activity = turn_context.activity
        value = activity.value if isinstance(activity.value, Mapping) else {}
        submit = self._submit_of(activity, value, organisation, reference, locale, execute=False)
        if submit is None:
            return
        content: ClickAnswer = await answer(submit)
        if isinstance(content, dict):
            await _replace_clicked(turn_context, self._kit, content, locale)

    # --- Universal Actions: Action.Execute -----------------------------------------------------------------

    async def _invoke(self, turn_context: TurnContext) -> InvokeResponse:
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return InvokeResponse(status=HTTPStatus.NOT_IMPLEMENTED)
        value = activity.value if isinstance(activity.value, Mapping) else {}
        action = value.get("action")
        data = action.get("data") if isinstance(action, Mapping) else None
        if (
            not isinstance(action, Mapping)
            or action.get("type") != "Action.Execute"
            or not isinstance(data, Mapping)
        ):
            return _card_error(HTTPStatus.BAD_REQUEST, "BadRequest")
        reference = reference_from(activity)
        answer = self._submits.find(data)
        if reference is None or answer is None:
            return _card_error(HTTPStatus.BAD_REQUEST, "NotSupported")
        organisation = await self._organisation(reference.tenant_id)
        if organisation is None:
            return _invoke_answer(Transient(self._kit.t(pick_locale(activity.locale), "teams.not_connected")))
        locale = await self._locale(activity, organisation, reference)
        await self._remember(organisation, replace(reference, locale=locale))
        submit = self._submit_of(activity, data, organisation, reference, locale, execute=True)
        if submit is None:
            return _card_error(HTTPStatus.BAD_REQUEST, "BadRequest")
        return _invoke_answer(await answer(submit))

    def _action_of(self, activity: Activity) -> tuple[str | None, bool]:
        """(the action asked for, whether the person typed free text). The text itself goes no further."""
        value = activity.value if isinstance(activity.value, dict) else None
        if value is not None and value.get(ACTION_KEY) in {HELP, SOCIAL_MAP, SESSIONS, TALK}:
            return str(value[ACTION_KEY]), False
        words = _MENTION.sub(" ", activity.text or "").strip().lower()
        if not words:
            return None, False
        command = _VP_PREFIX.sub("", words)  # "/vp kaart" works as in Slack
        if not command:
            return HELP, True
        return self._commands.get(command), True


ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
CONNECTOR_CLIENT_KEY = "ConnectorClient"  # where the SDK's adapter leaves the turn's connector client
_MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"


def _invoke_answer(answer: ClickAnswer) -> InvokeResponse:
    """The answer to an Action.Execute: a card shown to the clicker only, or a notice that stays nowhere."""
    if isinstance(answer, dict):
        body: dict[str, Any] = {"statusCode": 200, "type": ADAPTIVE_CARD, "value": answer}
    else:
        body = {"statusCode": 200, "type": _MESSAGE_RESPONSE, "value": answer.text if answer else ""}
    return InvokeResponse(status=HTTPStatus.OK, body=body)


def _card_error(status: HTTPStatus, code: str) -> InvokeResponse:
    body = {
        "statusCode": int(status),
        "type": "application/vnd.microsoft.error",
        "value": {"code": code, "message": code},
    }
    return InvokeResponse(status=HTTPStatus.OK, body=body)


def _card_activity(content: Card, locale: str, summary: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        locale=locale,
        summary=summary,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=content)],
    )


async def _replace_clicked(turn_context: TurnContext, kit: CardKit, content: Card, locale: str) -> None:
    """Show the answer in place of the clicked card (Teams names it in replyToId), or below it when it cannot."""
    clicked = turn_context.activity.reply_to_id
    if clicked:
        update = _card_activity(content, locale, kit.summary(locale))
        update.id = clicked
        try:
            await turn_context.update_activity(update)
            return
        except Exception as exc:  # an old card Teams no longer lets us edit: answer below it instead
            log.warning("teams card could not be updated; replying instead", error_type=type(exc).__name__)
    await _reply(turn_context, kit, content, locale)


async def _reply(turn_context: TurnContext, kit: CardKit, content: Card, locale: str) -> None:
    """Answer below the incoming activity. The card goes straight to the Bot Connector REST API through the
    turn's authenticated connector client: the SDK's own send path deep-copies every outgoing activity (the whole
    card), opens telemetry spans and serialises the card through pydantic on every click — most of the CPU of a
    menu click, for middleware vipbot does not use. Here the reply's addressing comes from the incoming activity's
    parts (`_reply_envelope`) and the card's JSON, the same for every click on the same button, is encoded once
    (`CardKit.json_of`). "expectReplies" delivery (replies returned in the HTTP answer) still goes through the SDK."""
    summary = kit.summary(locale)
    incoming = turn_context.activity
    client = turn_context.turn_state.get(CONNECTOR_CLIENT_KEY)
    if (
        not isinstance(client, ConnectorClientBase)
        or incoming.delivery_mode == DeliveryModes.expect_replies
        or not incoming.id
        or incoming.conversation is None
    ):
        await turn_context.send_activity(_card_activity(content, locale, summary))
        return
    session = getattr(client, "client", None)  # the SDK's ConnectorClient: its authenticated aiohttp session
    if not isinstance(session, aiohttp.ClientSession):
        reply = _card_activity(content, locale, summary)
        reply.apply_conversation_reference(incoming.get_conversation_reference())
        await client.conversations.reply_to_activity(incoming.conversation.id, incoming.id, reply)
        return
    head = json.dumps(_reply_envelope(incoming, locale, summary), separators=(",", ":"))[:-1].encode()
    body = b"".join((head, b',"attachments":[{"contentType":"', ADAPTIVE_CARD.encode(), b'","content":'))
    body += kit.json_of(content) + b"}]}"
    conversation = incoming.conversation.id[:_MAX_CONVERSATION_ID]
    path = f"v3/conversations/{conversation}/activities/{incoming.id}"
    headers = {**HeaderPropagationContext.collect_headers(), "Content-Type": "application/json"}
    async with session.post(path, data=body, headers=headers) as response:
        if response.status not in {200, 201, 202}:
            raise PlatformError(f"the Teams connector refused the reply (HTTP {response.status})")
        await response.read()


_MAX_CONVERSATION_ID = 150  # as the SDK's connector client trims it


def _reply_envelope(incoming: Activity, locale: str, summary: str) -> dict[str, Any]:
    """The addressing of a reply, as the SDK's `apply_conversation_reference` sets it: the bot (the incoming
    recipient) speaks to the sender, in the same conversation, below the incoming activity. Built from the
    incoming activity's parts directly: a new Activity would be validated and serialised whole on every click."""

    def part(model: Any) -> Any:
        return model.model_dump(by_alias=True, exclude_none=True, mode="json") if model is not None else None

    fields: dict[str, Any] = {
        "type": ActivityTypes.message.value,
        "locale": locale,
        "summary": summary,
        "channelId": str(incoming.channel_id) if incoming.channel_id else None,
        "serviceUrl": incoming.service_url,
        "conversation": part(incoming.conversation),
        "from": part(incoming.recipient),
        "recipient": part(incoming.from_property),
        "replyToId": incoming.id,
    }
    return {key: value for key, value in fields.items() if value is not None}
