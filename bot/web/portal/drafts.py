"""Form text kept for one redirect (POST/redirect/GET), in this process's memory only.

A page that answers a POST keeps the POST body in the browser's session-restore files, text included. So every
form that carries text is answered with a redirect to a GET page; when the form was refused (busy, too long,
changed meanwhile), what was typed waits here under a random one-time token in the redirect's URL, is taken by
that GET and is gone: a reload then shows the calm empty page. Nothing here is written to disk or logged; with
several replicas a draft may be lost (the refusal is still shown), never leaked.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Draft:
    error: str  # a locale key
    status: int
    fields: dict[str, str] = field(default_factory=dict)


class Drafts:
    def __init__(
        self, lifetime_s: float = 600, max_items: int = 5000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._lifetime = lifetime_s
        self._max = max_items
        self._now = monotonic
        self._items: OrderedDict[str, tuple[float, Draft]] = OrderedDict()

    def keep(self, draft: Draft) -> str:
        now = self._now()
        while self._items and (len(self._items) >= self._max or next(iter(self._items.values()))[0] < now):
            self._items.popitem(last=False)
        token = secrets.token_urlsafe(16)
        self._items[token] = (now + self._lifetime, draft)
        return token

    def take(self, token: str | None) -> Draft | None:
        if not token:
            return None
        found = self._items.pop(token, None)
        if found is None or found[0] < self._now():
            return None
        return found[1]
