"""The console's caches are the service's one cache (bot/cache.py), named here for the console's pages."""

from __future__ import annotations

from bot.cache import STALE_FACTOR, Expiring, Lru

__all__ = ["STALE_FACTOR", "Expiring", "Lru"]
