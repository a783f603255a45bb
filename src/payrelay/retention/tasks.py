"""Keeping monthly partitions created ahead of time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from payrelay.config import Settings
from payrelay.kit.db import Database


async def maintain_partitions(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Callable[[], datetime]
) -> int:
    """Create the coming months' partitions that do not exist yet; the number created."""
    return 0
