"""Periodic jobs, each run by one process at a time across all of them (a Postgres advisory
lock held for the run on its own autocommit connection)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import text

from payrelay.config import Settings
from payrelay.escrow.tasks import release_due
from payrelay.kit.db import Database
from payrelay.payment.tasks import auto_void_due, expire_due, janitor
from payrelay.retention.tasks import maintain_partitions
from payrelay.worker.gauges import update_queue_gauges

Clock = Callable[[], datetime]
Job = Callable[[Database, httpx.AsyncClient, Settings, Clock], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    run: Job
    exclusive: bool = True  # one runner across all processes

    @property
    def lock_key(self) -> int:
        digest = hashlib.blake2b(f"payrelay:{self.name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


JOBS = (
    PeriodicJob("expire", expire_due),
    PeriodicJob("auto_void", auto_void_due),
    PeriodicJob("janitor", janitor),
    PeriodicJob("escrow_release", release_due),
    PeriodicJob("partitions", maintain_partitions),
    PeriodicJob("queue_gauges", update_queue_gauges, exclusive=False),
)


async def run_job(
    job: PeriodicJob, db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock
) -> bool:
    """Run `job` unless another process is running it; True if it ran here."""
    if not job.exclusive:
        await job.run(db, http, settings, clock)
        return True
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        locked = await autocommit.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": job.lock_key}
        )
        if not locked:
            return False
        try:
            await job.run(db, http, settings, clock)
        finally:
            await autocommit.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": job.lock_key})
    return True
