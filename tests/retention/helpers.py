"""Helpers for the retention tests: old payments, their rows table by table, the CLI."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from payrelay.kit.db import Database
from payrelay.models import ARCHIVES

# Every test archives with its own cut-off, older than the previous test's, so payments another
# test left behind (newer) are never in a later test's range.
_EPOCHS = itertools.count()

# The rows of one payment (:p) in each table, live or archived ({suffix} is "" or "_archive").
PAYMENT_ROWS = {
    "payment_requests": "SELECT count(*) FROM payment_requests{suffix} WHERE id = :p",
    "payment_transactions": (
        "SELECT count(*) FROM payment_transactions{suffix} WHERE payment_request_id = :p"
    ),
    "payment_operations": (
        "SELECT count(*) FROM payment_operations{suffix} WHERE payment_transaction_id IN"
        " (SELECT id FROM payment_transactions{suffix} WHERE payment_request_id = :p)"
    ),
    "escrow_payments": (
        "SELECT count(*) FROM escrow_payments{suffix} WHERE payment_transaction_id IN"
        " (SELECT id FROM payment_transactions{suffix} WHERE payment_request_id = :p)"
    ),
    "payment_logs": "SELECT count(*) FROM payment_logs{suffix} WHERE payment_request_id = :p",
    "payment_webhooks": (
        "SELECT count(*) FROM payment_webhooks{suffix} WHERE payment_request_id = :p"
    ),
    "payment_callbacks": (
        "SELECT count(*) FROM payment_callbacks{suffix} WHERE payment_request_id = :p"
    ),
    "callback_attempts": (
        "SELECT count(*) FROM callback_attempts{suffix} WHERE callback_id IN"
        " (SELECT id FROM payment_callbacks{suffix} WHERE payment_request_id = :p)"
    ),
}
assert set(PAYMENT_ROWS) == set(ARCHIVES)


def next_epoch() -> datetime:
    """A point in the past no earlier test used: this test's payments are made older than it."""
    return datetime(2021, 1, 1, tzinfo=UTC) - timedelta(days=20 * next(_EPOCHS))


async def make_old(db: Database, payment_id: str, at: datetime) -> None:
    """Pretend the payment was created and last changed at `at` (its audit rows keep their
    real times: they cannot be changed)."""
    async with db.transaction() as session:
        params = {"p": uuid.UUID(payment_id), "at": at}
        await session.execute(
            text("UPDATE payment_requests SET created_at = :at, updated_at = :at WHERE id = :p"),
            params,
        )
        await session.execute(
            text(
                "UPDATE payment_transactions SET created_at = :at, updated_at = :at"
                " WHERE payment_request_id = :p"
            ),
            params,
        )


async def rows_of(db: Database, payment_id: str, *, archived: bool = False) -> dict[str, int]:
    suffix = "_archive" if archived else ""
    counts = {}
    async with db.session() as session:
        for table, query in PAYMENT_ROWS.items():
            result = await session.execute(
                text(query.format(suffix=suffix)), {"p": uuid.UUID(payment_id)}
            )
            counts[table] = int(result.scalar_one())
    return counts


async def table_sizes(db: Database) -> dict[str, int]:
    """Rows in every archive table: a fingerprint of 'nothing moved' (archiving inserts there
    in the transaction that deletes the live rows). The live tables are not counted: the
    worker keeps adding rows for other tests' payments meanwhile (callback attempts, audit
    rows); `rows_of` checks one payment's live rows."""
    counts = {}
    async with db.session() as session:
        for table in ARCHIVES:
            name = f"{table}_archive"
            result = await session.execute(text(f"SELECT count(*) FROM {name}"))
            counts[name] = int(result.scalar_one())
        result = await session.execute(
            text("SELECT count(*) FROM idempotency_keys WHERE payment_request_id IS NULL")
        )
        counts["unlinked idempotency keys"] = int(result.scalar_one())
    return counts


async def execute(db: Database, statement: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(statement), params)


async def wait_for_callbacks(db: Database, payment_id: str, within: float = 10) -> None:
    """Until the worker delivered every callback of the payment."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db.session() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM payment_callbacks WHERE payment_request_id = :p"
                    " AND status <> 'delivered'"
                ),
                {"p": uuid.UUID(payment_id)},
            )
        if waiting == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"callbacks of {payment_id} were not delivered")
