"""Pulses: short check-ins sent on a schedule, answered with one click, stored anonymously (DESIGN §5).

A pulse is one *round* of a pulse set in an organisation. While it is open it has a key; a person's click adds
one to a counter (pulse, group, question, value — created when the round opens) and writes a participation row
holding HMAC(pulse key, question, person) that refuses a second answer. Closing the round deletes the key and every
participation row, so afterwards nothing links anybody to the round at all.

This module is plain Python: the storage port does the keyed hashing and the transaction.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.clock import Clock
from bot.domain.content import PulseSet, Question, QuestionKind
from bot.domain.delivery import Attachment, Post
from bot.domain.summary import SummaryGroup
from bot.domain.tenancy import Group, GroupKind, GroupTree, Platform
from bot.errors import ConflictError, NotFoundError

LIKERT_VALUES = ("1", "2", "3", "4", "5")
DEFAULT_WINDOW_DAYS = 3
ACTION_PREFIX = "vp-pulse"
REMINDER_PREFIX = (
    "reminder:"  # an outreach item "reminder:<pulse set>" reminds the audience of the open round
)


class PulseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AnswerOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    CLOSED = "closed"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Pulse:
    id: UUID
    organisation_id: UUID
    pulse_set_id: str
    audience_group_id: UUID
    status: PulseStatus
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    tree: GroupTree
    summary_sent_at: datetime | None = None

    def is_open_at(self, moment: datetime) -> bool:
        return self.status is PulseStatus.OPEN and moment < self.closes_at


@dataclass(frozen=True, slots=True)
class Participant:
    """Who clicked, as the platform says. Only ever hashed under the pulse key; never stored as such."""

    platform: Platform
    workspace_id: str
    user_id: str

    def identity(self) -> bytes:
        return "\x1f".join((self.platform.value, self.workspace_id, self.user_id)).encode("utf-8")


@dataclass(frozen=True, slots=True)
class PulsePost(Post):
    """A pulse in a channel or DM: every question with one-click answers, and the door to the counsellor.

    The same post goes to every channel and DM of the round; a click counts for the group of the channel it
    was made in.
    """

    pulse_id: UUID
    pulse_set: PulseSet
    closes_at: datetime
    portal_url: str
    kind: str = "pulse"


@dataclass(frozen=True, slots=True)
class PulseReminderPost(Post):
    """A reminder to the whole audience — never only to those who have not answered (nobody can know that)."""

    pulse_id: UUID
    pulse_set: PulseSet
    closes_at: datetime
    portal_url: str
    kind: str = "pulse_reminder"


@dataclass(frozen=True, slots=True)
class ManagementSummaryPost(Post):
    """The management summary of the latest period: the round heading, every group (its line and tables), the
    trend, what is hidden and why, and the chart. A platform too small for it in one message sends it as pages
    (`bot.domain.summary`)."""

    title: str
    heading: str
    groups: tuple[SummaryGroup, ...]
    trend: str | None
    hidden_explanation: str
    chart: Attachment
    kind: str = "insights_summary"

    @property
    def lines(self) -> tuple[str, ...]:
        """The text in the order of the tree, as one message would show it: heading, groups, trend."""
        trend = (self.trend,) if self.trend else ()
        return (self.heading, *(g.text for g in self.groups), *trend)


@dataclass(frozen=True, slots=True)
class AnswerAction:
    """What one answer button carries. Nothing in it identifies the person who clicks, or their group: the group
    is the one of the channel the click came from (or the round's audience group, in a DM)."""

    pulse_id: UUID
    question_id: str
    value: str

    def encode(self) -> str:
        return "|".join((ACTION_PREFIX, str(self.pulse_id), self.question_id, self.value))

    @classmethod
    def decode(cls, raw: str) -> AnswerAction | None:
        parts = raw.split("|")
        if len(parts) != 4 or parts[0] != ACTION_PREFIX:
            return None
        try:
            return cls(UUID(parts[1]), parts[2], parts[3])
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ClickOrigin:
    """Where a click came from: a channel (bound to a group, or not) or the person's DM with the bot."""

    platform: Platform
    workspace_id: str
    channel_id: str | None = None


def answer_options(question: Question) -> tuple[str, ...]:
    """The values a question accepts, in the order the buttons show them."""
    if question.kind is QuestionKind.LIKERT:
        return LIKERT_VALUES
    return tuple(option.id for option in question.options)


def tree_to_json(tree: GroupTree) -> str:
    return json.dumps(
        [
            {
                "id": str(g.id),
                "organisation_id": str(g.organisation_id),
                "parent_id": str(g.parent_id) if g.parent_id else None,
                "kind": g.kind.value,
                "slug": g.slug,
                "name": g.name,
            }
            for g in tree.groups
        ],
        separators=(",", ":"),
    )


@functools.lru_cache(maxsize=256)
def tree_from_json(raw: str) -> GroupTree:
    """The tree of a snapshot (cached: rounds of one organisation usually share the same snapshot text)."""
    return GroupTree(
        tuple(
            Group(
                id=UUID(item["id"]),
                organisation_id=UUID(item["organisation_id"]),
                parent_id=UUID(item["parent_id"]) if item["parent_id"] else None,
                kind=GroupKind(item["kind"]),
                slug=item["slug"],
                name=item["name"],
            )
            for item in json.loads(raw)
        )
    )


class RoundStillOpenError(ConflictError):
    """A round opened by hand while a round of the same pulse set for the same people is still open.

    `open_round` refuses it: one round at a time per pulse set and group scope, so people get one card to answer
    and reminders point at one round. (The anonymity rules do not depend on it: `aggregate` decides overlapping
    rounds in the order they close.)"""

    def __init__(self, pulse: Pulse) -> None:
        super().__init__("a round of this pulse set for an overlapping group is still open")
        self.pulse = pulse


def groups_overlap(first: UUID, second: UUID, *trees: GroupTree) -> bool:
    """Whether two audience groups share people: the same group, or one above the other in any of the trees."""
    if first == second:
        return True
    for tree in trees:
        known = {g.id for g in tree.groups}
        if first in known and any(a.id == second for a in tree.ancestors(first)):
            return True
        if second in known and any(a.id == first for a in tree.ancestors(second)):
            return True
    return False


class PulseStore(Protocol):
    """Storage port. The implementation hashes the participant under the pulse key inside the transaction.

    `record_answer` returns once the click is durably written (or refused). Many clicks may wait in it at once:
    the SQL store writes the clicks that arrive together in one transaction on one connection."""

    async def open_pulse(
        self,
        organisation_id: UUID,
        pulse_set_id: str,
        audience_group_id: UUID,
        opened_at: datetime,
        closes_at: datetime,
        tree: GroupTree,
        occurrence_id: UUID | None = None,
        answers: Sequence[tuple[str, str]] = (),
    ) -> Pulse: ...

    async def get_pulse(self, organisation_id: UUID, pulse_id: UUID) -> Pulse: ...

    async def record_answer(
        self,
        organisation_id: UUID,
        pulse_id: UUID,
        question_id: str,
        group_id: UUID,
        value: str,
        participant: bytes,
    ) -> AnswerOutcome: ...

    async def close_pulse(self, organisation_id: UUID, pulse_id: UUID, closed_at: datetime) -> bool: ...

    async def due_for_close(self, moment: datetime) -> list[Pulse]: ...

    async def rounds(self, organisation_id: UUID, pulse_set_id: str) -> list[Pulse]: ...

    async def mark_summary_sent(self, organisation_id: UUID, pulse_id: UUID, moment: datetime) -> bool: ...

    async def group_for_channel(
        self, organisation_id: UUID, platform: Platform, workspace_id: str, channel_id: str
    ) -> UUID | None: ...


class PulseService:
    """Opens rounds, takes answers, closes rounds. Decides; the store persists."""

    def __init__(
        self,
        store: PulseStore,
        pulse_sets: tuple[PulseSet, ...],
        clock: Clock,
        *,
        concurrency: int = 16,
        in_flight: int = 1024,
        cache_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._sets = {s.id: s for s in pulse_sets}
        self._clock = clock
        # Looking up a round or a channel binding (on a cache miss) takes a connection: at most `concurrency`
        # clicks do that at once, so a burst queues here instead of timing out on the connection pool.
        self._lookups = asyncio.Semaphore(concurrency)
        # Waiting for the write takes no connection of its own (the store groups the clicks that arrive together
        # into one transaction), so many more clicks may wait at once — `in_flight` at most; the rest queue here.
        self._in_flight = asyncio.Semaphore(in_flight)
        # Rounds and channel bindings seen recently. Safe to reuse: a round that closed meanwhile is refused by
        # the database (its key is gone), and a binding changes rarely. The pulse key itself is never cached.
        self._ttl = timedelta(seconds=cache_seconds)
        self._pulses: dict[tuple[UUID, UUID], tuple[datetime, Pulse]] = {}
        self._bindings: dict[tuple[UUID, Platform, str, str], tuple[datetime, UUID | None]] = {}

    def pulse_set(self, pulse_set_id: str) -> PulseSet:
        found = self._sets.get(pulse_set_id)
        if found is None:
            raise NotFoundError(f"no pulse set '{pulse_set_id}' in the content library")
        return found

    async def open_round(
        self,
        organisation_id: UUID,
        pulse_set_id: str,
        tree: GroupTree,
        audience_group_id: UUID | None = None,
        window_days: int | None = None,
        occurrence_id: UUID | None = None,
    ) -> Pulse:
        """Open a round for `audience_group_id` (default: the whole organisation) with its own fresh key.

        A round opened by hand (no `occurrence_id`) is refused with `RoundStillOpenError` while a round of the
        same pulse set for an overlapping group is open. A schedule's occurrence is not: its cadence was chosen
        when it was planned (a weekly pulse with a seven-day window may fire a moment before the last round
        closes), and skipping it would silently drop a round."""
        pulse_set = self.pulse_set(pulse_set_id)
        audience = audience_group_id or tree.root.id
        if not any(g.id == audience for g in tree.groups):
            raise NotFoundError("the audience group is not in this organisation")
        if any(g.organisation_id != organisation_id for g in tree.groups):
            raise ConflictError("the group tree belongs to another organisation")
        days = window_days or pulse_set.window_days or DEFAULT_WINDOW_DAYS
        if not 1 <= days <= 31:
            raise ConflictError("a pulse is open between 1 and 31 days")
        if occurrence_id is None:
            blocking = await self.open_overlapping(organisation_id, pulse_set.id, tree, audience)
            if blocking is not None:
                raise RoundStillOpenError(blocking)
        now = self._clock.now()
        answers = tuple((q.id, v) for q in pulse_set.questions for v in answer_options(q))
        return await self._store.open_pulse(
            organisation_id,
            pulse_set.id,
            audience,
            now,
            now + timedelta(days=days),
            tree,
            occurrence_id,
            answers,
        )

    async def open_overlapping(
        self, organisation_id: UUID, pulse_set_id: str, tree: GroupTree, audience_group_id: UUID | None = None
    ) -> Pulse | None:
        """The open round of this pulse set whose audience shares people with `audience_group_id` (default: the
        whole organisation), if any — the one that closes last."""
        audience = audience_group_id or tree.root.id
        now = self._clock.now()
        found = [
            p
            for p in await self._store.rounds(organisation_id, pulse_set_id)
            if p.is_open_at(now) and groups_overlap(audience, p.audience_group_id, tree, p.tree)
        ]
        return max(found, key=lambda p: (p.closes_at, str(p.id))) if found else None

    async def answer(
        self, organisation_id: UUID, action: AnswerAction, participant: Participant, origin: ClickOrigin
    ) -> AnswerOutcome:
        """Record one click. A second click on the same question by the same person is refused.

        Returns once the click is written (or refused): an acknowledgement sent after it cannot lose it."""
        async with self._in_flight:
            async with self._lookups:
                decided = await self._decide(organisation_id, action, origin)
            if isinstance(decided, AnswerOutcome):
                return decided
            pulse, question_id, group_id = decided
            outcome = await self._store.record_answer(
                organisation_id, pulse.id, question_id, group_id, action.value, participant.identity()
            )
            if outcome is AnswerOutcome.CLOSED:
                self._pulses.pop((organisation_id, pulse.id), None)
            return outcome

    async def _pulse(self, organisation_id: UUID, pulse_id: UUID) -> Pulse:
        now = self._clock.now()
        cached = self._pulses.get((organisation_id, pulse_id))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        pulse = await self._store.get_pulse(organisation_id, pulse_id)
        if len(self._pulses) > 1024:
            self._pulses.clear()
        self._pulses[(organisation_id, pulse_id)] = (now, pulse)
        return pulse

    async def _bound_group(self, organisation_id: UUID, origin: ClickOrigin) -> UUID | None:
        if origin.channel_id is None:
            return None
        key = (organisation_id, origin.platform, origin.workspace_id, origin.channel_id)
        now = self._clock.now()
        cached = self._bindings.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        bound = await self._store.group_for_channel(*key)
        if len(self._bindings) > 4096:
            self._bindings.clear()
        self._bindings[key] = (now, bound)
        return bound

    async def _decide(
        self, organisation_id: UUID, action: AnswerAction, origin: ClickOrigin
    ) -> AnswerOutcome | tuple[Pulse, str, UUID]:
        """The outcome of a click that is refused before any write, else its round, question and group."""
        try:
            pulse = await self._pulse(organisation_id, action.pulse_id)
        except NotFoundError:
            return AnswerOutcome.INVALID
        if not pulse.is_open_at(self._clock.now()):
            return AnswerOutcome.CLOSED
        pulse_set = self._sets.get(pulse.pulse_set_id)
        question = (
            next((q for q in pulse_set.questions if q.id == action.question_id), None) if pulse_set else None
        )
        if question is None or action.value not in answer_options(question):
            return AnswerOutcome.INVALID
        group_id = pulse.audience_group_id
        bound = await self._bound_group(organisation_id, origin)
        if bound is not None and (
            bound == pulse.audience_group_id
            or any(g.id == bound for g in pulse.tree.descendants(pulse.audience_group_id))
        ):
            group_id = bound
        return pulse, question.id, group_id

    async def close_due(self) -> list[Pulse]:
        """Close every round whose window has passed: key and participation rows are deleted."""
        now = self._clock.now()
        closed: list[Pulse] = []
        for pulse in await self._store.due_for_close(now):
            if await self._store.close_pulse(pulse.organisation_id, pulse.id, now):
                closed.append(await self._store.get_pulse(pulse.organisation_id, pulse.id))
        return closed

    async def close_now(self, organisation_id: UUID, pulse_id: UUID) -> Pulse:
        await self._store.close_pulse(organisation_id, pulse_id, self._clock.now())
        return await self._store.get_pulse(organisation_id, pulse_id)
