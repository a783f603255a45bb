"""OAuth2 client-credentials tokens, cached per (base URL, client id) for the whole process.

Connectors are built per call, so the cache lives here. A token is used until shortly before
its `expires_in` (spec 2.1: refresh early); a 401 drops it and the caller fetches a new one.
One fetch at a time per key and event loop: concurrent callers wait for it instead of each
asking PayPal (the worker and the API run in different loops, so locks are per loop).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Key = tuple[str, str]  # (base URL, client id)
Clock = Callable[[], float]
MAX_SKEW = 300.0  # seconds before expiry that a token is renewed


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    renew_at: float  # on the monotonic clock


_tokens: dict[Key, Token] = {}
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Key, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def renew_after(expires_in: float) -> float:
    """Seconds a token is used: its lifetime less a margin (a tenth of it, at most 5 minutes)."""
    return max(0.0, expires_in - min(MAX_SKEW, expires_in / 10))


def _lock(key: Key) -> asyncio.Lock:
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(key, asyncio.Lock())


def _fresh(key: Key, clock: Clock) -> str | None:
    token = _tokens.get(key)
    if token is not None and clock() < token.renew_at:
        return token.value
    return None


async def token(
    key: Key,
    fetch: Callable[[], Awaitable[tuple[str, float]]],
    clock: Clock = time.monotonic,
) -> str:
    """A valid access token for `key`, fetching one (`fetch` → token, expires_in) if needed."""
    cached = _fresh(key, clock)
    if cached is not None:
        return cached
    async with _lock(key):
        cached = _fresh(key, clock)  # fetched by another caller meanwhile
        if cached is not None:
            return cached
        value, expires_in = await fetch()
        _tokens[key] = Token(value, clock() + renew_after(expires_in))
        return value


def invalidate(key: Key, value: str) -> None:
    """PayPal refused `value` (401): forget it, unless a newer token already replaced it."""
    current = _tokens.get(key)
    if current is not None and current.value == value:
        del _tokens[key]


def clear() -> None:
    _tokens.clear()
