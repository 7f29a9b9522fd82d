"""The counsellors' conversation labels, sealed under the organisation's label keys (`bot.security.label_keys`).

Only counsellors read labels (the employee's side never does). A page opens each label key it needs once, with
the counsellor's unlocked key, and forgets it when the request ends: nothing opened is kept between requests
(DESIGN §4.3).

- Labelling seals under the label key of the conversation's audience (every counsellor of the organisation, or the
  counsellor the employee addressed and the deputies), making it the first time; a counsellor who holds no share
  of an existing key yet seals the label the first way, to the conversation's key, until a colleague shares it.
- Unlocking the inbox (`share_with_colleagues`) seals the label keys this counsellor holds to colleagues of the
  audience who lack a share (as conversation keys reach them), and re-seals labels of the first format under the
  label key.
- Rotation re-seals the counsellor's label key shares; removing a counsellor from an organisation destroys them
  (`bot.storage.conversations.remove_counsellor`); erasing the organisation takes its label keys with it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from uuid import UUID

from bot.domain.conversations import (
    ConversationKey,
    ConversationService,
    ConversationSummary,
    DamagedMessageError,
    clean_label,
    decode_label,
    encode_label,
    label_key_id,
    recipients_for,
    under_label_key,
)
from bot.logs import get_logger
from bot.security.conversation_keys import UnlockedCounsellorKey
from bot.security.errors import SecurityError
from bot.security.label_keys import LabelKey, new_label_key, seal_label_key
from bot.security.secret import TokenBytes
from bot.storage.conversations import LabelTarget, SqlConversationStore

log = get_logger(__name__)


class LabelReader:
    """Opens the labels of one page: each label key at most once, with the counsellor's key; then forgotten."""

    def __init__(self, key: UnlockedCounsellorKey, label_key_shares: Mapping[UUID, bytes]) -> None:
        self._key = key
        self._shares = label_key_shares
        self._opened: dict[UUID, LabelKey | None] = {}

    def _label_key(self, key_id: UUID) -> LabelKey | None:
        if key_id not in self._opened:
            share = self._shares.get(key_id)
            opened = None
            if share is not None:
                try:
                    opened = self._key.open_label_key(share, label_key_id=key_id)
                except SecurityError:
                    log.warning("inbox: a label key did not open (damaged or tampered)")
            self._opened[key_id] = opened
        return self._opened[key_id]

    def label(
        self,
        summary: ConversationSummary,
        *,
        share: bytes | None = None,
        conversation_key: ConversationKey | None = None,
    ) -> str | None:
        """The conversation's label, or None (none set, or it does not open). A label of the first format opens
        with the conversation's key: `conversation_key`, else the counsellor's `share` of it."""
        sealed = summary.sealed_label
        if sealed is None:
            return None
        try:
            if under_label_key(sealed):
                key = self._label_key(label_key_id(summary.organisation_id, summary.chosen_counsellor))
                if key is None:
                    return None
                return decode_label(key.open(sealed, conversation_id=summary.id))
            if conversation_key is None:
                if share is None:
                    return None
                conversation_key = self._key.open_share(share, conversation_id=summary.id)
            return ConversationService.label_of(summary, conversation_key)
        except (SecurityError, DamagedMessageError):
            log.warning("inbox: a conversation label did not open (damaged or tampered)")
            return None


class ConversationLabels:
    def __init__(
        self,
        store: SqlConversationStore,
        service: ConversationService,
        *,
        token_bytes: TokenBytes = secrets.token_bytes,
    ) -> None:
        self._store = store
        self._service = service
        self._token_bytes = token_bytes

    async def set(
        self, key: UnlockedCounsellorKey, organisation_id: UUID, conversation_id: UUID, text: str
    ) -> None:
        """Label a conversation (an empty text removes the label); `InvalidTextError` when too long."""
        value = clean_label(text)
        if value is None:
            await self._store.set_label(organisation_id, conversation_id, None)
            return
        target = await self._store.label_target(organisation_id, conversation_id, key.counsellor_id)
        label_key = await self._label_key(key, organisation_id, target)
        if label_key is None:
            # The key exists but was not shared with this counsellor yet: the first way, still readable by all.
            await self._service.set_label(organisation_id, conversation_id, value)
            return
        sealed = label_key.seal(encode_label(value), conversation_id=conversation_id)
        await self._store.set_label(organisation_id, conversation_id, sealed)

    async def _label_key(
        self, key: UnlockedCounsellorKey, organisation_id: UUID, target: LabelTarget
    ) -> LabelKey | None:
        """The audience's label key: opened from this counsellor's share, or made now (sealed to everyone in the
        audience) when nobody holds one; None when others hold it and this counsellor does not yet."""
        chosen = target.chosen_counsellor
        key_id = label_key_id(organisation_id, chosen)
        share = target.label_key_share
        if share is None and target.label_key_held:
            return None
        if share is None:
            fresh = new_label_key(key_id, token_bytes=self._token_bytes)
            audience = recipients_for(await self._store.recipients(organisation_id), chosen)
            shares = {r.counsellor_id: seal_label_key(r.public_key, fresh, r.counsellor_id) for r in audience}
            if key.counsellor_id not in shares:
                return None
            if await self._store.add_label_key(organisation_id, chosen, shares):
                return fresh
            # Another counsellor made it a moment ago (sealed to this one too, when they were in the audience).
            share = dict(await self._store.label_key_shares_of(key.counsellor_id)).get(key_id)
            if share is None:
                return None
        return key.open_label_key(share, label_key_id=key_id)

    def reader(self, key: UnlockedCounsellorKey, label_key_shares: Mapping[UUID, bytes]) -> LabelReader:
        return LabelReader(key, label_key_shares)

    async def share_with_colleagues(self, key: UnlockedCounsellorKey) -> int:
        """Seal the label keys this counsellor holds to colleagues of their audience who lack one. Returns how
        many shares were made."""
        count = 0
        opened: dict[UUID, LabelKey] = {}
        for key_id, share, recipient in await self._store.missing_label_key_shares(key.counsellor_id):
            if key_id not in opened:
                opened[key_id] = key.open_label_key(share, label_key_id=key_id)
            sealed = seal_label_key(recipient.public_key, opened[key_id], recipient.counsellor_id)
            await self._store.add_label_key_share(key_id, recipient.counsellor_id, sealed)
            count += 1
        return count

    async def reseal_first_format(self, key: UnlockedCounsellorKey) -> int:
        """Re-seal this counsellor's labels of the first format (sealed to the conversation's key) under the label
        key of their audience. Returns how many were re-sealed."""
        count = 0
        opened: dict[UUID, LabelKey | None] = {}
        for found in await self._store.first_format_labels(key.counsellor_id):
            key_id = label_key_id(found.organisation_id, found.chosen_counsellor)
            try:
                conversation_key = key.open_share(found.share, conversation_id=found.conversation_id)
                text = decode_label(
                    conversation_key.open_label(found.sealed_label, conversation_id=found.conversation_id)
                )
                if key_id not in opened:
                    target = await self._store.label_target(
                        found.organisation_id, found.conversation_id, key.counsellor_id
                    )
                    opened[key_id] = await self._label_key(key, found.organisation_id, target)
            except (SecurityError, DamagedMessageError):
                log.warning("inbox: a conversation label did not open (damaged or tampered)")
                continue
            label_key = opened[key_id]
            if label_key is None:
                continue
            sealed = label_key.seal(encode_label(text), conversation_id=found.conversation_id)
            if await self._store.replace_label(
                found.organisation_id, found.conversation_id, found.sealed_label, sealed
            ):
                count += 1
        return count
