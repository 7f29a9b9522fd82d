"""The confidential channel put together: the domain service over SQL storage and the key flow.

Used by the portal, the counsellor's inbox, the `vipbot counsellor` commands and the maintenance loop.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.clock import Clock
from bot.domain.conversations import ConversationService, Recipient, today_in
from bot.domain.tenancy import CounsellorRole
from bot.security.conversation_keys import (
    ConversationCrypto,
    UnlockedCounsellorKey,
    new_counsellor_key,
    reseal_label_key_share,
    reseal_share,
    unlock_counsellor_key,
)
from bot.security.counsellor_keys import DEFAULT_ARGON2_PARAMS, Argon2Params
from bot.security.errors import SecurityError
from bot.security.secret import Secret
from bot.security.secretbox import SecretBox
from bot.settings import Settings
from bot.storage.conversations import SqlConversationStore
from bot.storage.db import session_factory
from bot.storage.tables_conversations import InboxUnlockRow
from bot.web.portal.labels import ConversationLabels

UNLOCK_PURPOSE = "inbox/unlocked-counsellor-key"


def master_key(settings: Settings) -> Secret[bytes]:
    if settings.secret_key is None:
        raise ValueError("the service needs a secret key")
    return Secret(settings.secret_key.get_secret_value().encode("utf-8"))


@dataclass(frozen=True, slots=True)
class InboxUnlock:
    """What the counsellor's browser keeps after unlocking: the row id and the key that opens the row."""

    unlock_id: UUID
    key: Secret[bytes]


class ConfidentialChannel:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        clock: Clock,
        *,
        argon2: Argon2Params = DEFAULT_ARGON2_PARAMS,
    ) -> None:
        self.store = SqlConversationStore(session_factory(engine))
        self.crypto = ConversationCrypto(master_key(settings))
        self.clock = clock
        self.service = ConversationService(self.store, self.crypto, clock)
        self.labels = ConversationLabels(self.store, self.service)
        self.argon2 = argon2

    # -- counsellor keys ------------------------------------------------------------------------------
    async def add_counsellor(
        self,
        organisation_id: UUID,
        display_name: str,
        email: str | None,
        passphrase: Secret[str],
        role: CounsellorRole = CounsellorRole.PRIMARY,
    ) -> UUID:
        """A counsellor with a fresh key pair under `passphrase`, assigned to the organisation.

        An existing counsellor with the same e-mail address and no key yet (one made with a console account)
        gets the key, so that account can unlock the inbox.
        """
        existing = await self.store.counsellor_by_email(email) if email else None
        counsellor_id = existing or UUID(bytes=secrets.token_bytes(16), version=4)
        material, _unlocked = await asyncio.to_thread(
            new_counsellor_key, counsellor_id, passphrase, self.argon2
        )
        return await self.store.add_counsellor(
            organisation_id,
            display_name,
            email,
            role,
            material.public_key,
            material.wrapped_private,
            today_in(self.clock),
            counsellor_id=counsellor_id,
        )

    async def create_key(self, counsellor_id: UUID, passphrase: Secret[str]) -> None:
        """A first key pair for a counsellor who has none (made in the console, passphrase typed there)."""
        material, _unlocked = await asyncio.to_thread(
            new_counsellor_key, counsellor_id, passphrase, self.argon2
        )
        await self.store.set_key(
            counsellor_id, material.public_key, material.wrapped_private, today_in(self.clock)
        )

    async def unlock(self, counsellor_id: UUID, passphrase: Secret[str]) -> UnlockedCounsellorKey:
        """Raises `SecurityError` for a wrong passphrase."""
        vault = await self.store.vault(counsellor_id)
        return await asyncio.to_thread(
            unlock_counsellor_key, counsellor_id, vault.wrapped_private, passphrase
        )

    async def rotate_key(self, counsellor_id: UUID, old: Secret[str], new: Secret[str]) -> int:
        """A fresh key pair under `new`; every conversation key share and label key share re-sealed to it. Returns
        the count of conversation key shares."""
        current = await self.unlock(counsellor_id, old)
        material, _fresh = await asyncio.to_thread(new_counsellor_key, counsellor_id, new, self.argon2)
        shares = {
            conversation_id: reseal_share(current, sealed, conversation_id, material.public_key)
            for conversation_id, sealed in await self.store.shares_of(counsellor_id)
        }
        label_key_shares = {
            key_id: reseal_label_key_share(current, sealed, key_id, material.public_key)
            for key_id, sealed in await self.store.label_key_shares_of(counsellor_id)
        }
        await self.store.replace_key(
            counsellor_id,
            material.public_key,
            material.wrapped_private,
            shares,
            today_in(self.clock),
            label_key_shares,
        )
        return len(shares)

    async def share_with_colleagues(self, key: UnlockedCounsellorKey) -> int:
        """Seal conversation keys and label keys this counsellor holds to co-counsellors who joined later (e.g. a
        deputy), and re-seal labels of the first format under a label key. Returns the conversation key shares
        made."""
        count = 0
        for conversation_id, recipient in await self.store.missing_shares(key.counsellor_id):
            conversation_key = await self.service.counsellor_key(key, conversation_id)
            sealed = self.crypto.share_for(conversation_key, conversation_id, recipient)
            await self.store.add_share(conversation_id, recipient.counsellor_id, sealed)
            count += 1
        # Labels first: re-sealing may make a label key, which the colleagues then receive.
        await self.labels.reseal_first_format(key)
        await self.labels.share_with_colleagues(key)
        return count

    async def recipients(self, organisation_id: UUID) -> list[Recipient]:
        return await self.store.recipients(organisation_id)

    # -- unlocked inbox sessions ----------------------------------------------------------------------
    async def open_inbox(
        self, key: UnlockedCounsellorKey, lifetime: timedelta, ticket: InboxUnlock | None = None
    ) -> InboxUnlock:
        """Keep the unlocked key for `lifetime`: encrypted in the database under a key only the browser holds.

        `ticket`: the row id and browser key made beforehand (the console hands the cookie out before the slow
        unlock has finished); by default fresh ones."""
        browser_key = ticket.key if ticket is not None else Secret(secrets.token_bytes(32))
        box = SecretBox(browser_key, UNLOCK_PURPOSE)
        sealed = box.encrypt(key.private.reveal(), str(key.counsellor_id).encode("ascii"))
        unlock_id = await self.store.add_unlock(
            key.counsellor_id,
            sealed,
            self.clock.now() + lifetime,
            unlock_id=ticket.unlock_id if ticket is not None else None,
        )
        return InboxUnlock(unlock_id, browser_key)

    async def resume_inbox(self, unlock: InboxUnlock) -> UnlockedCounsellorKey | None:
        row = await self.store.unlock(unlock.unlock_id, self.clock.now())
        return self._open_unlock(row, unlock)

    async def resume_from(
        self, row: InboxUnlockRow | None, unlock: InboxUnlock
    ) -> UnlockedCounsellorKey | None:
        """`resume_inbox` with the unlock row read already (by the query of the page, in its session)."""
        return self._open_unlock(await self.store.current_unlock(row, self.clock.now()), unlock)

    @staticmethod
    def _open_unlock(row: InboxUnlockRow | None, unlock: InboxUnlock) -> UnlockedCounsellorKey | None:
        if row is None or row.id != unlock.unlock_id:
            return None
        box = SecretBox(unlock.key, UNLOCK_PURPOSE)
        try:
            private = box.decrypt(row.sealed_private, str(row.counsellor_id).encode("ascii"))
        except SecurityError:
            return None
        return UnlockedCounsellorKey(row.counsellor_id, Secret(private))

    async def close_inbox(self, unlock_id: UUID) -> None:
        await self.store.remove_unlock(unlock_id)

    async def expire(self) -> int:
        now: datetime = self.clock.now()
        return await self.store.expire(today_in(self.clock), now)
