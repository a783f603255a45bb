"""Releasing held escrow whose hold period is over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from payrelay.config import Settings
from payrelay.kit.db import Database


async def release_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Callable[[], datetime]
) -> int:
    """Release held escrow past `release_after`; the number released."""
    return 0
