"""The migrations of issue 6 run on a database that already holds payments: the audit trail moves
into its monthly partitions with every row, an existing escrow gets its split, and the way back
(downgrade) and forth again keeps the rows too."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import make_url

from payrelay.kit import migrate
from payrelay.kit.ids import new_id
from tests.conftest import _admin, _database_on

BEFORE_ISSUE_6 = "7c41d2a9e0b3"  # the schema every database had before escrow and retention
NOW = datetime.now(UTC)
LAST_MONTH = NOW - timedelta(days=40)


@pytest.fixture
async def old_database(database_url: str) -> AsyncIterator[str]:
    name = f"payrelay_migrations_{os.getpid()}_{new_id().hex[:8]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    yield _database_on(database_url, name)
    await _admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _seed(url: str) -> uuid.UUID:
    """A merchant with one captured marketplace payment, its escrow and audit rows in two
    months, written as the old schema takes them."""
    merchant, payment = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(
            "INSERT INTO merchants (id, name, callback_secret) VALUES ($1, 'Old shop', 'whsec_x')",
            merchant,
        )
        account = await connection.fetchval(
            "INSERT INTO payment_gateways (merchant_id, code, name) VALUES ($1, 'sandbox', 'S')"
            " RETURNING id",
            merchant,
        )
        await connection.execute(
            "INSERT INTO payment_requests (id, merchant_id, idempotency_key, request_fingerprint,"
            " order_id, payment_method, amount, currency, status, expires_at, created_at)"
            " VALUES ($1, $2, 'old-1', repeat('0', 64), 'A-1', 'sandbox', 12500, 'RSD',"
            " 'completed', $3, $4)",
            payment,
            merchant,
            LAST_MONTH + timedelta(hours=1),
            LAST_MONTH,
        )
        transaction = await connection.fetchval(
            "INSERT INTO payment_transactions (gateway_id, order_reference, amount, currency,"
            " marketplace_commission, seller_amount, payment_request_id, merchant_id,"
            " capture_method, expires_at, status, authorized_amount, captured_amount, seller_id,"
            " listing_id, created_at, captured_at) VALUES ($1, 'ref-old-1', 12500, 'RSD', 625,"
            " 11875, $2, $3, 'automatic', $4, 'captured', 12500, 12500, 'seller-9', 'listing-7',"
            " $5, $5) RETURNING id",
            account,
            payment,
            merchant,
            LAST_MONTH + timedelta(hours=1),
            LAST_MONTH,
        )
        await connection.execute(
            "INSERT INTO escrow_payments (payment_transaction_id, merchant_id, seller_id, amount,"
            " currency, release_after) VALUES ($1, $2, 'seller-9', 11875, 'RSD', $3)",
            transaction,
            merchant,
            LAST_MONTH + timedelta(days=14),
        )
        for at, event in ((LAST_MONTH, "payment.created"), (NOW, "payment.captured")):
            await connection.execute(
                "INSERT INTO payment_logs (payment_request_id, payment_transaction_id,"
                " merchant_id, event_type, actor, created_at) VALUES ($1, $2, $3, $4, 'merchant',"
                " $5)",
                payment,
                transaction,
                merchant,
                event,
                at,
            )
    finally:
        await connection.close()
    return payment


async def _trail(url: str, payment: uuid.UUID) -> list[tuple[str, datetime]]:
    connection = await asyncpg.connect(_plain(url))
    try:
        rows = await connection.fetch(
            "SELECT event_type, created_at FROM payment_logs WHERE payment_request_id = $1"
            " ORDER BY created_at",
            payment,
        )
    finally:
        await connection.close()
    return [(row["event_type"], row["created_at"]) for row in rows]


async def test_issue_6_migrations_keep_an_existing_database_whole(old_database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, old_database, BEFORE_ISSUE_6)
    payment = await _seed(old_database)
    trail = await _trail(old_database, payment)
    assert [event for event, _ in trail] == ["payment.created", "payment.captured"]

    await asyncio.to_thread(migrate.upgrade, old_database)

    assert await _trail(old_database, payment) == trail
    connection = await asyncpg.connect(_plain(old_database))
    try:
        partitions = await connection.fetch(
            "SELECT tableoid::regclass::text AS partition FROM payment_logs"
            " WHERE payment_request_id = $1 ORDER BY created_at",
            payment,
        )
        assert [row["partition"] for row in partitions] == [
            f"payment_logs_p{LAST_MONTH:%Y%m}",
            f"payment_logs_p{NOW:%Y%m}",
        ]
        escrow = await connection.fetchrow(
            "SELECT status, amount, commission_amount, captured_amount, refunded_amount"
            " FROM escrow_payments"
        )
        assert dict(escrow) == {
            "status": "held",
            "amount": 11875,
            "commission_amount": 625,
            "captured_amount": 12500,
            "refunded_amount": 0,
        }
        hold = await connection.fetchval("SELECT escrow_hold_days FROM merchants")
        assert hold == 14
        with pytest.raises(asyncpg.PostgresError, match="append-only"):  # after the move too
            await connection.execute("UPDATE payment_logs SET actor = 'x'")
    finally:
        await connection.close()

    # Down to the old schema and up again: the rows survive both ways.
    await asyncio.to_thread(migrate.downgrade, old_database, BEFORE_ISSUE_6)
    assert await _trail(old_database, payment) == trail
    await asyncio.to_thread(migrate.upgrade, old_database)
    assert await _trail(old_database, payment) == trail


BEFORE_DELTAS = "e4a8b3d0f6c5"  # statistics kept by updating the rows in place


async def test_going_back_before_statistics_deltas_folds_the_pending_ones(
    old_database: str,
) -> None:
    await asyncio.to_thread(migrate.upgrade, old_database)
    merchant = new_id()
    day = NOW.date()
    connection = await asyncpg.connect(_plain(old_database))
    try:
        await connection.execute(
            "INSERT INTO merchants (id, name, callback_secret) VALUES ($1, 'deltas', 'whsec_x')",
            merchant,
        )
        await connection.execute(
            "INSERT INTO payment_statistics (date, merchant_id, gateway_name, currency,"
            " total_requests, total_amount, processing_time_total, processing_time_count,"
            " average_processing_time) VALUES ($1, $2, 'sandbox', 'VND', 2, 300, 10, 2, 5)",
            day,
            merchant,
        )
        await connection.executemany(
            "INSERT INTO payment_statistics_deltas (date, merchant_id, gateway_name, currency,"
            " total_requests, total_amount, processing_time_total, processing_time_count)"
            " VALUES ($1, $2, 'sandbox', $3, 1, $4, $5, 1)",
            [(day, merchant, "VND", 100, 7), (day, merchant, "USD", 5, 3)],
        )
    finally:
        await connection.close()

    await asyncio.to_thread(migrate.downgrade, old_database, BEFORE_DELTAS)

    connection = await asyncpg.connect(_plain(old_database))
    try:
        rows = await connection.fetch(
            "SELECT currency, total_requests, total_amount, processing_time_total,"
            " processing_time_count, average_processing_time FROM payment_statistics"
            " WHERE merchant_id = $1 ORDER BY currency",
            merchant,
        )
        assert [tuple(row) for row in rows] == [
            ("USD", 1, 5, 3, 1, 3),
            ("VND", 3, 400, 17, 3, 5),  # 17 // 3: the average truncates as the check demands
        ]
        assert not await connection.fetchval(
            "SELECT to_regclass('payment_statistics_deltas') IS NOT NULL"
        )
    finally:
        await connection.close()
    await asyncio.to_thread(migrate.upgrade, old_database)
