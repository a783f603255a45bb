"""Queue depth and age, read from the tables by every worker (cheap: partial indexes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from prometheus_client import Gauge
from sqlalchemy import text

from payrelay.config import Settings
from payrelay.kit.db import Database

DEPTH = Gauge("payrelay_queue_depth", "Rows waiting in each queue.", ["queue"])
AGE = Gauge("payrelay_queue_oldest_age_seconds", "Age of the oldest waiting row.", ["queue"])

_QUEUES = {
    "callbacks": "SELECT count(*), min(created_at) FROM payment_callbacks "
    "WHERE status IN ('pending', 'failed', 'delivering') AND next_retry_at IS NOT NULL",
    "webhooks": "SELECT count(*), min(created_at) FROM payment_webhooks "
    "WHERE status IN ('received', 'failed')",
    # Statistics deltas not yet folded into the daily rows: near zero while a worker runs.
    "statistics_deltas": "SELECT count(*), min(created_at) FROM payment_statistics_deltas",
}


async def update_queue_gauges(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Callable[[], datetime]
) -> int:
    now = clock()
    async with db.session() as session:
        for queue, query in _QUEUES.items():
            count, oldest = (await session.execute(text(query))).one()
            DEPTH.labels(queue=queue).set(count)
            AGE.labels(queue=queue).set((now - oldest).total_seconds() if oldest else 0)
    return 0
