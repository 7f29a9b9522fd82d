"""Outbox workers: claim due deliveries under a lease, render per platform, send through the gateway, record.

- Rows are claimed in small numbers (at most `in_flight` at a time, topped up once half of them are done), so a
  crash re-sends at most that many: their lease runs out and another worker (or this one after a restart) picks
  them up again.
- Sending is paced per (platform, workspace) to the configured rate; a 429 pauses that workspace for Retry-After
  and puts the row back without counting the attempt.
- Sends are recorded in small batches (one statement every `record_interval`); a delivery counts as in flight
  until its batch is written. A failed write is retried a few times; if the database stays away the rows are
  left claimed (their lease makes them sendable again), never marked failed: a message that went out is not
  reported lost, and only that batch (at most `in_flight` deliveries) may be sent a second time.
- Transient failures are retried with exponential backoff and jitter, up to `max_attempts`; permanent ones
  (channel archived, bot removed, user gone) are recorded as failed at once and never retried.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from bot.domain.clock import Clock
from bot.domain.delivery import (
    DeliveryError,
    DeliveryFailureKind,
    Gateway,
    Post,
    Rendered,
    Renderer,
    TargetKind,
)
from bot.domain.failures import Failure, FailureCode
from bot.domain.outreach import Delivery, Occurrence, PostFactory
from bot.domain.tenancy import Platform
from bot.logs import get_logger, log_failure
from bot.storage.outbox import SqlOutbox
from bot.storage.schedules import SqlMemberDirectory
from scheduler.budget import PacerLike
from scheduler.readers import reader_locale

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PlatformDelivery:
    """What a platform adapter hands the outbox: its renderer and its gateway."""

    renderer: Renderer
    gateway: Gateway


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    rate_per_second: float = 5.0  # per (platform, workspace)
    in_flight: int = 16  # deliveries claimed and not yet recorded, at most
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff_base: float = 2.0  # seconds; doubled per attempt, with full jitter
    backoff_max: float = 600.0
    poll_interval: float = 1.0
    record_interval: float = 0.02  # sends are recorded in batches this often (seconds)
    record_attempts: int = 5  # tries to write one batch before leaving its rows to their lease
    record_backoff: float = 0.1  # seconds before the second try; doubled after each


class Pacer:
    """Spaces sends to `rate` per second and honours pauses (Retry-After).

    Sends take turns in arrival order, on a fixed plan of one turn per interval. The event loop wakes a turn a
    little late now and then (epoll counts in milliseconds): the next turn keeps to the plan, but never starts
    less than `interval - slack` after the previous one really started (slack: 1 ms, at most a fifth of the
    interval), so late wake-ups cost no rate and a stalled loop never releases a burst. A pause that begins
    while a send waits for its turn holds that send too.
    """

    def __init__(self, rate: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._slack = min(0.001, self._interval / 5)
        self._next = -math.inf  # the planned start of the next turn
        self._last = -math.inf  # when the previous turn really started
        self._paused_until = 0.0
        self._monotonic = monotonic
        self._turns = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._monotonic())

    async def wait_turn(self) -> None:
        async with self._turns:
            while True:
                ready = max(self._next, self._last + self._interval - self._slack, self._paused_until)
                now = self._monotonic()
                if now >= ready:
                    break
                await asyncio.sleep(ready - now)
            self._last = now
            self._next = max(ready, now - self._slack) + self._interval


class OutboxWorker:
    def __init__(
        self,
        outbox: SqlOutbox,
        platforms: Mapping[Platform, PlatformDelivery] | Callable[[], Mapping[Platform, PlatformDelivery]],
        posts: PostFactory,
        clock: Clock,
        members: SqlMemberDirectory | None = None,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        pacers: Callable[[Platform, str], PacerLike] | None = None,
    ) -> None:
        self.outbox = outbox
        self._platforms = platforms
        self.posts = posts
        self.clock = clock
        self.members = members
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or f"w-{random.getrandbits(48):012x}"
        self._rng = rng or random.Random()  # noqa: S311  (jitter)
        # In-process pacing by default; `scheduler.budget.SharedPacers` keeps the budget in the database instead.
        self._make_pacer = pacers or (lambda _platform, _workspace: Pacer(self.config.rate_per_second))
        self._pacers: dict[tuple[str, str], PacerLike] = {}
        self._posts: dict[UUID, Post | None] = {}
        self._occurrences: dict[UUID, Occurrence | None] = {}
        self._rendered: dict[tuple[UUID, str, str], Rendered] = {}
        self._wake = asyncio.Event()
        self._active: set[UUID] = set()  # deliveries a task of this worker is on
        self._sent_batch: list[tuple[UUID, str, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.sent = 0  # sent and recorded
        self.unrecorded = 0  # sent, but the row could not be recorded (lease lost, or the database was away)
        self.failed = 0

    def platforms(self) -> Mapping[Platform, PlatformDelivery]:
        return self._platforms() if callable(self._platforms) else self._platforms

    def wake(self) -> None:
        """Look for work now (e.g. right after a materialisation) instead of at the next poll."""
        self._wake.set()

    def pacer(self, platform: Platform, workspace: str) -> PacerLike:
        key = (platform.value, workspace)
        if key not in self._pacers:
            self._pacers[key] = self._make_pacer(platform, workspace)
        return self._pacers[key]

    # --- the loop ------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        # Claim again once half the slots are free, not for every slot: one claim statement per few deliveries.
        refill = max(1, self.config.in_flight // 2)
        try:
            while not stop.is_set():
                room = self.config.in_flight - len(in_flight)
                claimed: list[Delivery] = []
                if room >= refill or (room > 0 and not in_flight):
                    try:
                        claimed = await self.outbox.claim(
                            self.worker_id, self.clock.now(), self.config.lease, room
                        )
                    except Exception:
                        log_failure(log, "outbox claim failed; retrying")
                        await asyncio.sleep(self.config.poll_interval)
                        continue
                for delivery in claimed:
                    in_flight.add(asyncio.create_task(self.deliver(delivery)))
                if in_flight and (claimed or room < refill):
                    done, in_flight = await asyncio.wait(
                        in_flight, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()
                    continue
                self._wake.clear()
                signals = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(
                    [*signals, *in_flight],
                    timeout=self.config.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for signal in signals:
                    signal.cancel()
                finished = {t for t in in_flight if t.done()}
                for task in finished:
                    task.result()
                in_flight -= finished
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def drain(self, timeout: float = 60.0) -> int:  # noqa: ASYNC109
        """Process everything due now and return how many deliveries were handled (for the CLI and tests)."""
        handled = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self.outbox.claim(
                self.worker_id, self.clock.now(), self.config.lease, self.config.in_flight
            )
            if not claimed:
                return handled
            await asyncio.gather(*(self.deliver(d) for d in claimed))
            handled += len(claimed)
        return handled

    # --- one delivery -----------------------------------------------------------------------------------

    async def _post(self, delivery: Delivery) -> tuple[Occurrence | None, Post | None]:
        key = delivery.occurrence_id
        if key not in self._occurrences:
            occurrence = await self.outbox.occurrence(delivery.organisation_id, key)
            self._occurrences[key] = occurrence
            self._posts[key] = None if occurrence is None else await self.posts.build(occurrence)
        return self._occurrences[key], self._posts[key]

    def _render(
        self, occurrence: Occurrence, post: Post, channel: PlatformDelivery, delivery: Delivery
    ) -> Rendered:
        locale = reader_locale(delivery, occurrence)
        key = (occurrence.id, delivery.target.platform.value, locale)
        if key not in self._rendered:
            self._rendered[key] = channel.renderer.render(post, locale)
        return self._rendered[key]

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.id in self._active:
            # This worker's own lease on the row ran out while it was still busy with it, and it claimed the row
            # again: the task already on it finishes it. Starting a second one would post twice.
            return
        self._active.add(delivery.id)
        try:
            await self._deliver(delivery)
        except Exception as exc:  # one catch-all per entry point: a bug fails this row, not the worker
            log_failure(log, "outbox delivery crashed", delivery=str(delivery.id))
            try:
                await self.outbox.mark_failed(
                    delivery.id,
                    self.worker_id,
                    f"internal error: {type(exc).__name__}",
                    Failure(FailureCode.INTERNAL),
                )
            except Exception as again:
                # The database is away too: the row stays claimed and is tried again after its lease.
                log.error(  # not log.exception: a database error's text shows the bound values
                    "outbox delivery could not be marked failed; it stays claimed until its lease runs out",
                    delivery=str(delivery.id),
                    error=type(again).__name__,
                )
                return
            self.failed += 1
        finally:
            self._active.discard(delivery.id)

    async def _deliver(self, delivery: Delivery) -> None:
        started = time.monotonic()
        target = delivery.target
        channel = self.platforms().get(target.platform)
        if channel is None:
            # The adapter is not configured in this process: try again later rather than lose the row.
            await self.outbox.retry_later(
                delivery.id,
                self.worker_id,
                self._later(delivery.attempts),
                f"{target.platform.value} not configured",
            )
            return
        occurrence, post = await self._post(delivery)
        if occurrence is None or post is None:
            await self.outbox.mark_failed(
                delivery.id,
                self.worker_id,
                "nothing to post (item removed or cancelled)",
                Failure(FailureCode.NOTHING_TO_POST),
            )
            self.failed += 1
            return
        rendered = self._render(occurrence, post, channel, delivery)
        pacer = self.pacer(target.platform, target.workspace_id)
        lease_left = self.config.lease.total_seconds() / 2
        if pacer.paused_for() > lease_left:
            await self.outbox.release(
                delivery.id, self.worker_id, self.clock.now() + timedelta(seconds=pacer.paused_for())
            )
            return
        await pacer.wait_turn()
        if time.monotonic() - started > lease_left:
            # Pauses kept it waiting so long that the lease could run out while sending, and another worker
            # could send it too: give the row back (the attempt is not counted) instead.
            await self.outbox.release(delivery.id, self.worker_id, self.clock.now())
            return
        try:
            sent = await channel.gateway.send(target, rendered)
        except DeliveryError as exc:
            await self._failed(delivery, exc)
            return
        if await self._record_sent(delivery.id, sent.message_id):
            self.sent += 1
        else:
            self.unrecorded += 1

    async def _record_sent(self, delivery_id: UUID, message_id: str) -> bool:
        """Queue the outcome and wait until its batch is written: a delivery counts as in flight until then.

        Returns whether the row was recorded as sent. Never raises: a send that happened must not be turned into
        a failure because the database was away for a moment (see `_write_sent`).
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._sent_batch.append((delivery_id, message_id, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_sent())
        return await done

    async def _flush_sent(self) -> None:
        batch: list[tuple[UUID, str, asyncio.Future[bool]]] = []
        try:
            await asyncio.sleep(self.config.record_interval)
            while self._sent_batch:
                batch, self._sent_batch = self._sent_batch, []
                recorded = await self._write_sent([(i, m) for i, m, _ in batch])
                for delivery_id, _, done in batch:
                    if not done.done():
                        done.set_result(delivery_id in recorded)
                batch = []
        finally:
            # Only left with waiters when cancelled (the loop is shutting down): nobody may wait for ever.
            # Their rows stay claimed and are sent again once the lease runs out.
            for _, _, done in [*batch, *self._sent_batch]:
                if not done.done():
                    done.set_result(False)
            self._sent_batch = []

    async def _write_sent(self, sent: list[tuple[UUID, str]]) -> set[UUID]:
        """Write one batch of sends, retrying a failed write a few times with a short backoff.

        When it still fails, the rows are left claimed: once their lease runs out they are sent again, so at most
        the deliveries in flight are duplicated — never marked failed, which would lose a message that was sent.
        """
        delay = self.config.record_backoff
        attempt = 1
        while True:
            try:
                recorded = await self.outbox.mark_sent_many(self.worker_id, sent, self.clock.now())
            except Exception as exc:
                if attempt >= self.config.record_attempts:
                    log.error(  # not log.exception: a database error's text shows the bound values
                        "sent deliveries could not be recorded; they stay claimed until their lease runs out "
                        "and may then be sent again",
                        deliveries=len(sent),
                        attempts=attempt,
                        error=type(exc).__name__,
                    )
                    return set()
                log.warning(
                    "recording sent deliveries failed; retrying",
                    deliveries=len(sent),
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
                delay = min(delay * 2, self.config.backoff_max)
                attempt += 1
                continue
            if len(recorded) < len(sent):
                log.warning(
                    "sent deliveries whose lease was lost were not recorded; another worker may send them again",
                    deliveries=len(sent),
                    not_recorded=len(sent) - len(recorded),
                )
            return recorded

    async def _failed(self, delivery: Delivery, exc: DeliveryError) -> None:
        target = delivery.target
        now = self.clock.now()
        if exc.kind is DeliveryFailureKind.RATE_LIMITED:
            wait = exc.retry_after if exc.retry_after is not None else self.config.backoff_base
            self.pacer(target.platform, target.workspace_id).pause(wait)
            log.info(
                "rate limited; pausing the workspace",
                platform=target.platform.value,
                workspace=target.workspace_id,
                retry_after=wait,
            )
            await self.outbox.release(delivery.id, self.worker_id, now + timedelta(seconds=wait))
            return
        if exc.kind is DeliveryFailureKind.PERMANENT:
            log.warning(
                "delivery failed permanently",
                delivery=str(delivery.id),
                platform=target.platform.value,
                reason=exc.reason,
            )
            await self.outbox.mark_failed(
                delivery.id, self.worker_id, exc.reason, exc.failure or Failure(FailureCode.OTHER)
            )
            self.failed += 1
            if target.kind is TargetKind.PERSON and self.members is not None:
                await self.members.deactivate(delivery.organisation_id, target)
            return
        if delivery.attempts >= self.config.max_attempts:
            log.warning(
                "delivery failed after all attempts",
                delivery=str(delivery.id),
                attempts=delivery.attempts,
                reason=exc.reason,
            )
            await self.outbox.mark_failed(
                delivery.id,
                self.worker_id,
                f"gave up after {delivery.attempts} attempts: {exc.reason}",
                _gave_up(delivery.attempts, exc.failure),
            )
            self.failed += 1
            return
        await self.outbox.retry_later(delivery.id, self.worker_id, self._later(delivery.attempts), exc.reason)

    def _later(self, attempts: int) -> datetime:
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** max(attempts - 1, 0))
        return self.clock.now() + timedelta(seconds=self._rng.uniform(ceiling / 2, ceiling))


def _gave_up(attempts: int, last: Failure | None) -> Failure:
    """Only transient failures are tried again, so what gave up was a platform outage of some kind; a send whose
    outcome was unknown says so, since the message may have arrived after all."""
    if last is not None and last.code is FailureCode.OUTCOME_UNKNOWN:
        return last
    return Failure(FailureCode.GAVE_UP, str(attempts))
