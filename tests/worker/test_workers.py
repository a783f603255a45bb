"""Real worker processes (`payrelay serve --role worker`) against their own database: a worker
killed with SIGKILL while holding claims loses nothing, and two workers share a queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from payrelay.callback.service import message_id
from payrelay.kit import migrate
from payrelay.kit.db import Database
from payrelay.kit.ids import new_id
from payrelay.merchant import service as merchant_service
from payrelay.models import PaymentCallback
from tests.callback.receiver import Receiver, Reply
from tests.conftest import _admin, _database_on


@pytest.fixture
async def queue_db(database_url) -> AsyncIterator[tuple[str, Database]]:
    """A database of its own: the test server's in-process worker must not take part."""
    name = f"payrelay_workers_{os.getpid()}_{new_id().hex[:8]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    url = _database_on(database_url, name)
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    yield url, database
    await database.dispose()
    await _admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


async def _queue(database: Database, url: str, count: int) -> list[str]:
    """`count` due callbacks to `url`; returns their message ids."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        merchant = (
            await merchant_service.create_merchant(
                session, name="queue", callback_url=None, allow_private_callbacks=True
            )
        ).merchant
        rows = []
        for sequence in range(1, count + 1):
            callback_id = new_id()
            rows.append(
                {
                    "id": callback_id,
                    "merchant_id": merchant.id,
                    "event_type": "payment.captured",
                    "sequence": sequence,
                    "callback_url": url,
                    "payload": {
                        "id": message_id(callback_id),
                        "type": "payment.captured",
                        "created_at": now.isoformat(),
                        "sequence": sequence,
                        "data": {"n": sequence},
                    },
                    "status": "pending",
                    "next_retry_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await session.execute(insert(PaymentCallback), rows)
    return [row["payload"]["id"] for row in rows]


def _worker(database_url: str, **settings: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYRELAY_")}
    env.update(
        PAYRELAY_DATABASE_URL=database_url,
        PAYRELAY_ALLOW_PRIVATE_CALLBACKS="true",
        PAYRELAY_LOG_LEVEL="WARNING",
        PAYRELAY_WORKER_POLL_SECONDS="0.2",
        PAYRELAY_CALLBACK_RETRY_SCHEDULE="[0.2, 0.2, 0.2]",
        PAYRELAY_CALLBACK_RETRY_JITTER="0",
        **{f"PAYRELAY_{key.upper()}": value for key, value in settings.items()},
    )
    return subprocess.Popen(
        [sys.executable, "-m", "payrelay", "serve", "--role", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _statuses(database: Database) -> Counter[str]:
    async with database.session() as session:
        rows = await session.execute(
            select(PaymentCallback.status, func.count()).group_by(PaymentCallback.status)
        )
        return Counter(dict(rows.all()))


async def _until_delivered(database: Database, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await _statuses(database))["delivered"] == count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all delivered: {await _statuses(database)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.timeout(180)
async def test_a_killed_worker_loses_no_callback(queue_db):
    url, database = queue_db
    with Receiver() as receiver:
        receiver.default = Reply(200, delay=0.5)  # slow: the first worker is caught holding claims
        ids = await _queue(database, receiver.url, 60)
        first = _worker(url, callback_lease_seconds="2", callback_batch_size="20")
        try:
            deadline = time.monotonic() + 60
            while len(receiver.received) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert (await _statuses(database))["delivering"] > 0
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            _stop(first)
        receiver.default = Reply(200)
        second = _worker(url, callback_lease_seconds="2", callback_batch_size="20")
        try:
            await _until_delivered(database, len(ids), within=90)
        finally:
            _stop(second)
        seen = Counter(request.headers["webhook-id"] for request in receiver.received)
    assert set(seen) == set(ids)  # every callback arrived
    # At-least-once: only those in flight when the worker died may have arrived twice.
    assert sum(seen.values()) - len(ids) <= 20
    assert (await _statuses(database)) == Counter({"delivered": len(ids)})


@pytest.mark.timeout(180)
async def test_two_workers_share_500_callbacks_without_duplicates(queue_db):
    url, database = queue_db
    with Receiver() as receiver:
        ids = await _queue(database, receiver.url, 500)
        workers = [_worker(url), _worker(url)]
        try:
            await _until_delivered(database, len(ids), within=120)
        finally:
            for worker in workers:
                _stop(worker)
        seen = Counter(request.headers["webhook-id"] for request in receiver.received)
    duplicates = sum(seen.values()) - len(seen)
    assert set(seen) == set(ids)
    assert duplicates == 0, f"{duplicates} callbacks were delivered twice"
    for worker in workers:
        assert worker.returncode == 0  # SIGTERM: finished what it held and exited cleanly
