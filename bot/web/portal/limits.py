"""Abuse limits for the portal: in-memory sliding-window rate limits and a proof-of-work against code guessing.

Nothing here is persisted or logged, and no counter is keyed by an IP address or user agent: limits are per
receipt-code lookup value (an HMAC, never the code), per conversation, per organisation, and global.

One organisation under a flood must not close the portal of another: starts, code entries and attempts without
proof of work are counted per organisation; the global caps are an order of magnitude higher and only keep the
machine itself alive. The proof of work asked of an organisation's forms rises with the recent number of attempts
on it (one more bit, twice the work, per doubling over `pow_load_threshold` a minute, at most `pow_extra_bits_max`
more): a flood pays more and more, an employee of a quiet organisation pays the base price.

Proof of work (hashcash-style): the server hands out a challenge ``<payload>.<tag>`` (payload = expiry and 16
random bytes, tag = HMAC over it). The browser finds a number `n` such that SHA-256(challenge ":" n) starts
with `bits` zero bits, and sends both. The payload also holds the number of bits asked and the organisation it
was issued for (so a cheap challenge from a quiet organisation is worthless on a busy one). A challenge is
accepted once and only before it expires. Browsers without JavaScript can still go on, but only inside a small
allowance for unproven attempts (per organisation), and their challenge still works as a one-time form token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class PortalLimits:
    pow_bits: int = 16
    pow_lifetime_s: int = 600
    # Attempts (starts and code entries) a minute on one organisation before its proof of work gets harder.
    pow_load_threshold: int = 20
    pow_load_window_s: int = 60
    pow_extra_bits_max: int = 4
    # Code entry: per lookup value, per organisation, and (to protect the machine) for all together.
    lookups_per_code: int = 5
    lookups_per_code_window_s: int = 900
    lookups_per_organisation: int = 120
    lookups_global: int = 2000
    lookups_global_window_s: int = 60
    # Attempts without proof of work (no JavaScript), per organisation and for all together.
    unproven_per_organisation: int = 10
    unproven_global: int = 100
    unproven_global_window_s: int = 600
    # New conversations, per organisation and for all together; messages per conversation.
    starts_per_organisation: int = 30
    starts_global: int = 600
    starts_global_window_s: int = 60
    writes_per_conversation: int = 30
    writes_per_conversation_window_s: int = 3600


class RateLimiter:
    """Sliding-window counters in memory. `hit(key, limit, window)` counts and says whether it is allowed."""

    def __init__(self, monotonic: Monotonic = time.monotonic, max_keys: int = 100_000) -> None:
        self._now = monotonic
        self._events: dict[bytes, deque[float]] = {}
        self._max_keys = max_keys

    def hit(self, key: bytes, limit: int, window: float) -> bool:
        now = self._now()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._sweep(now, window)
            events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) >= limit:
            return False
        events.append(now)
        return True

    def recent(self, key: bytes, window: float) -> int:
        """How many hits `key` had in the last `window` seconds (without counting one)."""
        events = self._events.get(key)
        if not events:
            return 0
        now = self._now()
        return sum(1 for moment in events if moment > now - window)

    def _sweep(self, now: float, window: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - window]:
            del self._events[key]
        if len(self._events) >= self._max_keys:  # still full: forget the oldest half rather than grow
            for key in list(self._events)[: self._max_keys // 2]:
                del self._events[key]


PAYLOAD_SIZE = 8 + 1 + 8 + 16  # expiry, bits, scope, random


def _scope(scope: bytes) -> bytes:
    return hashlib.sha256(b"vipbot/portal-pow/scope|" + scope).digest()[:8]


def extra_bits(recent: int, threshold: int, most: int) -> int:
    """One more bit per doubling of the recent attempts over the threshold, at most `most`."""
    if threshold <= 0 or recent < threshold:
        return 0
    return min(most, (recent // threshold).bit_length())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def pow_digest(challenge: str, answer: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{answer}".encode("ascii", "replace")).digest()


class ProofOfWork:
    def __init__(
        self, key: bytes, bits: int, lifetime_s: int, *, wall_clock: Callable[[], float] = time.time
    ) -> None:
        if not 0 <= bits <= 28:
            raise ValueError("proof-of-work bits out of range")
        self._key = key
        self.bits = bits
        self._lifetime = lifetime_s
        self._clock = wall_clock
        self._spent: dict[str, float] = {}

    def challenge(self, bits: int | None = None, scope: bytes = b"") -> str:
        """A challenge asking `bits` zero bits (default: the base), valid only for `scope` (an organisation)."""
        wanted = self.bits if bits is None else max(self.bits, min(bits, 28))
        payload = (
            struct.pack(">QB", int(self._clock()) + self._lifetime, wanted)
            + _scope(scope)
            + secrets.token_bytes(16)
        )
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"vipbot/portal-pow/v1|" + payload, hashlib.sha256).digest()[:16]

    def verify(self, challenge: str, answer: str, scope: bytes = b"") -> bool:
        """True once per valid, unexpired, solved challenge of this scope."""
        if len(answer) > 20 or not answer.isdigit():
            return False
        payload = self._payload(challenge)
        if payload is None or leading_zero_bits(pow_digest(challenge, answer)) < max(self.bits, payload[8]):
            return False
        return self.spend(challenge, scope)

    def _payload(self, challenge: str) -> bytes | None:
        try:
            payload_text, tag_text = challenge.split(".", 1)
            payload, tag = _unb64(payload_text), _unb64(tag_text)
        except (ValueError, UnicodeEncodeError):
            return None
        if len(payload) != PAYLOAD_SIZE or not hmac.compare_digest(tag, self._tag(payload)):
            return None
        return payload

    def spend(self, challenge: str, scope: bytes = b"") -> bool:
        """True once per challenge this server signed and that has not expired (no work asked).

        Used for forms sent without JavaScript: the challenge is then a one-time form token, so a resent form
        is refused rather than acted on twice.
        """
        now = self._clock()
        payload = self._payload(challenge)
        if payload is None or not hmac.compare_digest(payload[9:17], _scope(scope)):
            return False
        expires = struct.unpack(">Q", payload[:8])[0]
        if expires < now:
            return False
        self._forget_expired(now)
        if challenge in self._spent:
            return False
        self._spent[challenge] = expires
        return True

    def _forget_expired(self, now: float) -> None:
        if len(self._spent) > 10_000:
            for key in [k for k, exp in self._spent.items() if exp < now]:
                del self._spent[key]


def solve(challenge: str, bits: int) -> str:
    """What the browser's script does, for tests and command-line clients."""
    n = 0
    while leading_zero_bits(pow_digest(challenge, str(n))) < bits:
        n += 1
    return str(n)
