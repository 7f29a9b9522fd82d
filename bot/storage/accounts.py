"""The SQL side of console accounts, sign-in sessions and invitations.

Tokens (session cookies, invitation links) are 256-bit random values handed to the browser once; only their
SHA-256 is stored, so a copy of the database opens no session and accepts no invitation.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.accounts import (
    INVITATION_LIFETIME,
    Account,
    Credentials,
    Invitation,
    Role,
    SessionStage,
    WebSession,
    lock_until,
)
from bot.errors import ConflictError, NotFoundError
from bot.storage.conversations import remove_counsellor
from bot.storage.db import erase_wal, transaction
from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow, OrganisationRow, PracticeRow
from bot.storage.tables_console import (
    ConsoleAccountRow,
    ConsoleInvitationRow,
    ConsoleSessionRow,
    aware,
)

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def _organisation_ids(session: AsyncSession, row: ConsoleAccountRow) -> frozenset[UUID]:
    if row.role == Role.VIEWER.value:
        return frozenset({row.organisation_id}) if row.organisation_id else frozenset()
    if row.counsellor_id is not None:  # a counsellor, or an administrator who is one too
        found = await session.exec(
            select(OrganisationCounsellorRow.organisation_id).where(
                col(OrganisationCounsellorRow.counsellor_id) == row.counsellor_id
            )
        )
        return frozenset(found.all())
    return frozenset()


async def _counsellor_for(session: AsyncSession, email: str, display_name: str) -> UUID:
    """The counsellor row of this address that no other account is linked to, or a new one: running `vipbot
    counsellor add` before or after the console invitation never makes a second row for the same person."""
    linked = select(ConsoleAccountRow.counsellor_id).where(col(ConsoleAccountRow.counsellor_id).is_not(None))
    existing = (
        await session.exec(
            select(CounsellorRow.id)
            .where(func.lower(col(CounsellorRow.email)) == normalise_email(email))
            .where(col(CounsellorRow.id).not_in(linked))
            .order_by(col(CounsellorRow.display_name))
        )
    ).first()
    if existing is not None:
        return existing
    practice = (await session.exec(select(PracticeRow).limit(1))).first()
    if practice is None:
        practice = PracticeRow(name="Practice")
        session.add(practice)
        await session.flush()
    counsellor = CounsellorRow(
        practice_id=practice.id, display_name=display_name, email=normalise_email(email)
    )
    session.add(counsellor)
    await session.flush()
    return counsellor.id


def _account(row: ConsoleAccountRow, organisation_ids: frozenset[UUID]) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        organisation_ids=organisation_ids,
        counsellor_id=row.counsellor_id,
        totp_enabled=row.totp_secret is not None,
        locale=row.locale,
        disabled=row.disabled,
    )


class SqlAccountRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # accounts ---------------------------------------------------------------------------------------------

    async def count_accounts(self) -> int:
        async with self._sessions() as session:
            return int((await session.exec(select(func.count()).select_from(ConsoleAccountRow))).one())

    async def create_account(
        self,
        email: str,
        display_name: str,
        role: Role,
        password_hash: str,
        *,
        organisation_id: UUID | None = None,
        locale: str = "nl",
    ) -> Account:
        """A new account; a counsellor gets a `counsellor` row and, with `organisation_id`, its assignment."""
        async with transaction(self._sessions) as session:
            return await self._create(
                session, email, display_name, role, password_hash, organisation_id, locale
            )

    async def _create(
        self,
        session: AsyncSession,
        email: str,
        display_name: str,
        role: Role,
        password_hash: str,
        organisation_id: UUID | None,
        locale: str,
    ) -> Account:
        email = normalise_email(email)
        taken = await session.exec(select(ConsoleAccountRow.id).where(col(ConsoleAccountRow.email) == email))
        if taken.first() is not None:
            raise ConflictError("an account with this e-mail address exists already")
        if role is Role.VIEWER and organisation_id is None:
            raise ConflictError("a management viewer belongs to one organisation")
        counsellor_id: UUID | None = None
        if role is Role.COUNSELLOR:
            counsellor_id = await _counsellor_for(session, email, display_name)
            if organisation_id is not None and (
                await session.get(OrganisationCounsellorRow, (organisation_id, counsellor_id)) is None
            ):
                session.add(
                    OrganisationCounsellorRow(
                        organisation_id=organisation_id, counsellor_id=counsellor_id, role="primary"
                    )
                )
        row = ConsoleAccountRow(
            email=email,
            display_name=display_name,
            role=role.value,
            organisation_id=organisation_id if role is Role.VIEWER else None,
            counsellor_id=counsellor_id,
            password_hash=password_hash,
            locale=locale,
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise ConflictError("an account with this e-mail address exists already") from None
        return _account(row, await _organisation_ids(session, row))

    async def get(self, account_id: UUID) -> Account | None:
        async with self._sessions() as session:
            row = await session.get(ConsoleAccountRow, account_id)
            if row is None:
                return None
            return _account(row, await _organisation_ids(session, row))

    async def list_accounts(self) -> list[Account]:
        async with self._sessions() as session:
            rows = (
                await session.exec(select(ConsoleAccountRow).order_by(col(ConsoleAccountRow.email)))
            ).all()
            return [_account(row, await _organisation_ids(session, row)) for row in rows]

    async def display_names(self) -> dict[UUID, str]:
        """Every account's name by id, in one query (the audit log names who did what)."""
        async with self._sessions() as session:
            rows = await session.exec(select(ConsoleAccountRow.id, ConsoleAccountRow.display_name))
            return dict(rows.all())

    async def credentials(self, email: str) -> Credentials | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConsoleAccountRow).where(col(ConsoleAccountRow.email) == normalise_email(email))
                )
            ).first()
            if row is None:
                return None
            return self._credentials(row, await _organisation_ids(session, row))

    async def credentials_by_id(self, account_id: UUID) -> Credentials | None:
        async with self._sessions() as session:
            row = await session.get(ConsoleAccountRow, account_id)
            if row is None:
                return None
            return self._credentials(row, await _organisation_ids(session, row))

    @staticmethod
    def _credentials(row: ConsoleAccountRow, organisation_ids: frozenset[UUID]) -> Credentials:
        return Credentials(
            account=_account(row, organisation_ids),
            password_hash=row.password_hash,
            totp_secret=row.totp_secret,
            totp_last_step=row.totp_last_step,
            failed_attempts=row.failed_attempts,
            locked_until=aware(row.locked_until) if row.locked_until else None,
        )

    async def record_failure(self, account_id: UUID, now: datetime) -> datetime | None:
        """Count one more failure in a row; returns until when the account is now locked (or None)."""
        async with transaction(self._sessions) as session:
            row = await session.get(ConsoleAccountRow, account_id, with_for_update=True)
            if row is None:
                return None
            row.failed_attempts += 1
            row.locked_until = lock_until(row.failed_attempts, now)
            session.add(row)
            return row.locked_until

    async def record_success(self, account_id: UUID, *, totp_step: int | None = None) -> None:
        async with transaction(self._sessions) as session:
            values: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
            if totp_step is not None:
                values["totp_last_step"] = totp_step
            await session.exec(
                update(ConsoleAccountRow).where(col(ConsoleAccountRow.id) == account_id).values(**values)
            )

    async def claim_totp_step(self, account_id: UUID, step: int) -> bool:
        """Record `step` as used; False when it (or a later one) was used already: a code works once."""
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(ConsoleAccountRow)
                .where(col(ConsoleAccountRow.id) == account_id)
                .where(
                    (col(ConsoleAccountRow.totp_last_step).is_(None))
                    | (col(ConsoleAccountRow.totp_last_step) < step)
                )
                .values(totp_last_step=step, failed_attempts=0, locked_until=None)
            )
            return bool(result.rowcount)

    async def set_totp(self, account_id: UUID, sealed_secret: bytes, step: int) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConsoleAccountRow)
                .where(col(ConsoleAccountRow.id) == account_id)
                .values(totp_secret=sealed_secret, totp_last_step=step, failed_attempts=0, locked_until=None)
            )

    async def reset_second_factor(self, account_id: UUID) -> None:
        """Remove the authenticator and unlock; every session ends (the next sign-in enrols anew)."""
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConsoleAccountRow)
                .where(col(ConsoleAccountRow.id) == account_id)
                .values(totp_secret=None, totp_last_step=None, failed_attempts=0, locked_until=None)
            )
            await session.exec(
                delete(ConsoleSessionRow).where(col(ConsoleSessionRow.account_id) == account_id)
            )

    async def set_password_hash(self, account_id: UUID, password_hash: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConsoleAccountRow)
                .where(col(ConsoleAccountRow.id) == account_id)
                .values(password_hash=password_hash)
            )

    async def set_locale(self, account_id: UUID, locale: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConsoleAccountRow).where(col(ConsoleAccountRow.id) == account_id).values(locale=locale)
            )

    async def set_disabled(self, account_id: UUID, disabled: bool) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConsoleAccountRow)
                .where(col(ConsoleAccountRow.id) == account_id)
                .values(disabled=disabled)
            )
            if disabled:
                await session.exec(
                    delete(ConsoleSessionRow).where(col(ConsoleSessionRow.account_id) == account_id)
                )

    async def accounts_of(self, organisation_id: UUID) -> list[Account]:
        """The counsellors assigned to an organisation and its management viewers."""
        async with self._sessions() as session:
            counsellor_ids = select(OrganisationCounsellorRow.counsellor_id).where(
                col(OrganisationCounsellorRow.organisation_id) == organisation_id
            )
            rows = (
                await session.exec(
                    select(ConsoleAccountRow)
                    .where(
                        (col(ConsoleAccountRow.organisation_id) == organisation_id)
                        | col(ConsoleAccountRow.counsellor_id).in_(counsellor_ids)
                    )
                    .order_by(col(ConsoleAccountRow.display_name))
                )
            ).all()
            return [_account(row, await _organisation_ids(session, row)) for row in rows]

    async def become_counsellor(self, account_id: UUID) -> UUID:
        """Link the account to its counsellor row (one person, several roles: an administrator who is also the
        counsellor). The counsellor with the account's address is reused (made earlier by `vipbot counsellor
        add`), else one is made. Returns the counsellor's id; a management viewer is refused."""
        async with transaction(self._sessions) as session:
            row = await session.get(ConsoleAccountRow, account_id)
            if row is None:
                raise NotFoundError("no such account")
            if row.counsellor_id is not None:
                return row.counsellor_id
            if row.role == Role.VIEWER.value:
                raise ConflictError("a management viewer cannot be a counsellor")
            row.counsellor_id = await _counsellor_for(session, row.email, row.display_name)
            session.add(row)
            return row.counsellor_id

    async def assign_counsellor(self, account_id: UUID, organisation_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(ConsoleAccountRow, account_id)
            if row is None or row.role == Role.VIEWER.value or row.counsellor_id is None:
                raise NotFoundError("no such counsellor account")
            if await session.get(OrganisationRow, organisation_id) is None:
                raise NotFoundError("no such organisation")
            exists = await session.get(OrganisationCounsellorRow, (organisation_id, row.counsellor_id))
            if exists is None:
                session.add(
                    OrganisationCounsellorRow(
                        organisation_id=organisation_id, counsellor_id=row.counsellor_id, role="primary"
                    )
                )

    async def unassign_counsellor(self, account_id: UUID, organisation_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(ConsoleAccountRow, account_id)
            if row is None or row.counsellor_id is None:
                raise NotFoundError("no such counsellor account")
            # The same removal as `vipbot counsellor unlink`: their copies of the conversation keys go too.
            await remove_counsellor(session, organisation_id, row.counsellor_id)
        await erase_wal(self._sessions)

    # sessions ---------------------------------------------------------------------------------------------

    async def start_session(self, account_id: UUID, stage: SessionStage, now: datetime) -> str:
        """A new session (a fresh token: the id is never carried over from before sign-in)."""
        token = new_token()
        async with transaction(self._sessions) as session:
            session.add(
                ConsoleSessionRow(
                    id=token_hash(token),
                    account_id=account_id,
                    stage=stage.value,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token

    async def load_session(
        self, token: str, now: datetime, touch_after_seconds: float = 300
    ) -> tuple[WebSession, Account] | None:
        """The session and its account, or None when unknown or expired (expired rows are removed)."""
        key = token_hash(token)
        # One query: the session, its account, and (for a counsellor) each assigned organisation as a row.
        async with self._sessions() as session:
            found = (
                await session.exec(
                    select(ConsoleSessionRow, ConsoleAccountRow, OrganisationCounsellorRow.organisation_id)
                    .join(ConsoleAccountRow, col(ConsoleAccountRow.id) == col(ConsoleSessionRow.account_id))
                    .outerjoin(
                        OrganisationCounsellorRow,
                        col(OrganisationCounsellorRow.counsellor_id) == col(ConsoleAccountRow.counsellor_id),
                    )
                    .where(col(ConsoleSessionRow.id) == key)
                )
            ).all()
        if not found:
            return None
        row, account_row, _ = found[0]
        web_session = WebSession(
            account_id=row.account_id,
            stage=SessionStage(row.stage),
            created_at=aware(row.created_at),
            last_seen_at=aware(row.last_seen_at),
        )
        if account_row.role != Role.VIEWER.value:  # a counsellor, or an administrator who is one too
            organisation_ids = frozenset(org for _, _, org in found if org is not None)
        elif account_row.role == Role.VIEWER.value and account_row.organisation_id is not None:
            organisation_ids = frozenset({account_row.organisation_id})
        else:
            organisation_ids = frozenset()
        account = _account(account_row, organisation_ids)
        if web_session.expired(now) or account.disabled:
            await self.end_session(token)
            return None
        if (now - web_session.last_seen_at).total_seconds() > touch_after_seconds:
            async with transaction(self._sessions) as session:
                await session.exec(
                    update(ConsoleSessionRow).where(col(ConsoleSessionRow.id) == key).values(last_seen_at=now)
                )
        return web_session, account

    async def end_session(self, token: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ConsoleSessionRow).where(col(ConsoleSessionRow.id) == token_hash(token))
            )

    async def end_all_sessions(self, account_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ConsoleSessionRow).where(col(ConsoleSessionRow.account_id) == account_id)
            )

    # invitations ------------------------------------------------------------------------------------------

    async def invite(
        self, email: str, role: Role, organisation_id: UUID | None, created_by: UUID | None, now: datetime
    ) -> str:
        """A single-use invitation link token, valid for INVITATION_LIFETIME."""
        if role is Role.VIEWER and organisation_id is None:
            raise ConflictError("a management viewer belongs to one organisation")
        token = new_token()
        async with transaction(self._sessions) as session:
            taken = await session.exec(
                select(ConsoleAccountRow.id).where(col(ConsoleAccountRow.email) == normalise_email(email))
            )
            if taken.first() is not None:
                raise ConflictError("an account with this e-mail address exists already")
            session.add(
                ConsoleInvitationRow(
                    id=uuid.uuid4(),
                    token_hash=token_hash(token),
                    email=normalise_email(email),
                    role=role.value,
                    organisation_id=organisation_id,
                    created_by=created_by,
                    expires_at=now + INVITATION_LIFETIME,
                    created_at=now,
                )
            )
        return token

    async def invitation(self, token: str) -> Invitation | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConsoleInvitationRow).where(
                        col(ConsoleInvitationRow.token_hash) == token_hash(token)
                    )
                )
            ).first()
            if row is None:
                return None
            return Invitation(
                id=row.id,
                email=row.email,
                role=Role(row.role),
                organisation_id=row.organisation_id,
                expires_at=aware(row.expires_at),
                used=row.used_at is not None,
            )

    async def open_invitations(self, now: datetime) -> list[Invitation]:
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(ConsoleInvitationRow)
                    .where(col(ConsoleInvitationRow.used_at).is_(None))
                    .order_by(col(ConsoleInvitationRow.created_at))
                )
            ).all()
        found = [
            Invitation(
                id=r.id,
                email=r.email,
                role=Role(r.role),
                organisation_id=r.organisation_id,
                expires_at=aware(r.expires_at),
                used=False,
            )
            for r in rows
        ]
        return [i for i in found if i.usable(now)]

    async def accept_invitation(
        self, token: str, display_name: str, password_hash: str, now: datetime, locale: str = "nl"
    ) -> Account:
        """Use the invitation (once, atomically) and create its account."""
        async with transaction(self._sessions) as session:
            row = (
                await session.exec(
                    select(ConsoleInvitationRow)
                    .where(col(ConsoleInvitationRow.token_hash) == token_hash(token))
                    .with_for_update()
                )
            ).first()
            if row is None or row.used_at is not None or aware(row.expires_at) <= now:
                raise NotFoundError("the invitation is unknown, used or expired")
            claimed = await session.exec(
                update(ConsoleInvitationRow)
                .where(col(ConsoleInvitationRow.id) == row.id)
                .where(col(ConsoleInvitationRow.used_at).is_(None))
                .values(used_at=now)
            )
            if not claimed.rowcount:
                raise NotFoundError("the invitation is unknown, used or expired")
            return await self._create(
                session, row.email, display_name, Role(row.role), password_hash, row.organisation_id, locale
            )
