"""The worker: applies stored gateway webhooks and delivers callbacks as soon as they are queued
(LISTEN/NOTIFY wakes it), polling as a backstop. Any number of workers can run against one
database; every claim uses SKIP LOCKED and a lease."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import httpx

from payrelay.callback.repository import CHANNEL as CALLBACKS
from payrelay.callback.tasks import Clock, deliver_due, utcnow
from payrelay.config import Settings
from payrelay.kit.db import Database, sync_libpq_url
from payrelay.logging import get_logger
from payrelay.statistics.tasks import fold_pending
from payrelay.webhook_in.repository import CHANNEL as WEBHOOKS
from payrelay.webhook_in.tasks import process_due
from payrelay.worker.periodic import JOBS, run_job

log = get_logger(__name__)

QueueJob = Callable[[Database, httpx.AsyncClient, Settings, Clock], Awaitable[int]]


class Worker:
    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
        settings: Settings,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.http = http
        self.settings = settings
        self.clock = clock
        # One wake-up per queue: a stored webhook wakes the inbox loop, a queued callback the
        # outbox loop, and neither waits for the other's batch.
        self._wake = {WEBHOOKS: asyncio.Event(), CALLBACKS: asyncio.Event()}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop claiming; what is in flight finishes (bounded by the callback timeout)."""
        self._stopping.set()
        self._wake_all()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="payrelay-listen")
        periodic = asyncio.create_task(self._periodic_loop(), name="payrelay-periodic")
        fold = asyncio.create_task(self._fold_loop(), name="payrelay-statistics-fold")
        try:
            await asyncio.gather(
                self._queue_loop(WEBHOOKS, process_due), self._queue_loop(CALLBACKS, deliver_due)
            )
        finally:
            await periodic  # both stop at the next check of the stop flag
            await fold
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _queue_loop(self, channel: str, job: QueueJob) -> None:
        """Claim and handle batches of one queue until it is empty, then sleep until notified
        (or the polling backstop)."""
        wake = self._wake[channel]
        poll = self.settings.worker_poll_seconds
        while not self._stopping.is_set():
            wake.clear()
            claimed = 0
            try:
                claimed = await job(self.db, self.http, self.settings, self.clock)
            except Exception:
                log.exception("worker.job_failed", job=job.__name__)
            if claimed >= self.settings.callback_batch_size:
                continue  # more may be due: no waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll)

    async def _periodic_loop(self) -> None:
        while not self._stopping.is_set():
            for job in JOBS:
                if self._stopping.is_set():
                    return
                try:
                    await run_job(job, self.db, self.http, self.settings, self.clock)
                except Exception:
                    log.exception("worker.periodic_failed", job=job.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self.settings.worker_schedule_seconds
                )

    async def _fold_loop(self) -> None:
        """Statistics deltas join their daily rows about once a second: the rows stay small
        and current, and readers add only a few pending deltas."""
        while not self._stopping.is_set():
            try:
                await fold_pending(self.db, self.clock, batch=self.settings.statistics_fold_batch)
            except Exception:
                log.exception("worker.statistics_fold_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self.settings.statistics_fold_seconds
                )

    async def _listen(self) -> None:
        """Keep a LISTEN connection open; reconnect after a loss (polling covers the gap)."""
        url = sync_libpq_url(self.db.url)
        while not self._stopping.is_set():
            connection = None
            try:
                connection = await asyncpg.connect(url)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                for channel in (WEBHOOKS, CALLBACKS):
                    await connection.add_listener(channel, self._notified)
                self._wake_all()  # anything queued while we were not listening
                await _first(self._stopping.wait(), lost.wait())
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("worker.listen_failed", error=type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                if connection is not None and not connection.is_closed():
                    await connection.close()

    def _notified(self, _connection: object, _pid: object, channel: str, _payload: object) -> None:
        self._wake[channel].set()

    def _wake_all(self) -> None:
        for wake in self._wake.values():
            wake.set()


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.create_task(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
