"""Releasing held escrow whose hold period is over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from payrelay.config import Settings
from payrelay.escrow import service as escrow_service
from payrelay.kit.db import Database
from payrelay.logging import get_logger

log = get_logger(__name__)

BATCH = 100
MAX_BATCHES = 20  # a backlog beyond this waits for the next run, so other jobs get their turn


async def release_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Callable[[], datetime]
) -> int:
    """Release held escrow past `release_after`; the number released.

    Each batch is one transaction: claimed with `FOR UPDATE SKIP LOCKED` (a payment busy with
    a command is left for the next run), released with actor `system`, its `escrow.released`
    callbacks queued with it."""
    released = 0
    for _ in range(MAX_BATCHES):
        async with db.transaction() as session:
            claimed, done = await escrow_service.release_due_batch(
                session, now=clock(), limit=BATCH
            )
        released += done
        if claimed < BATCH or done == 0:
            break
    if released:
        log.info("escrow.released_due", released=released)
    return released
