"""Counted events on one row from many transactions at once: none is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text

from payrelay.kit.db import Database, DatabaseOptions
from payrelay.statistics.counters import Counters, Key
from payrelay.statistics.repository import StatisticsRepository
from tests.statistics.helpers import counters, day_of, stored

EVENTS = 60


async def test_concurrent_increments_of_one_new_row_lose_nothing(factory, db, database_url):
    shop = await factory.merchant()
    key = Key(date(2030, 6, 1), shop.id, "sandbox", "USD")
    database = Database(database_url, DatabaseOptions(pool_size=20, max_overflow=0))
    now = datetime(2030, 6, 1, 12, tzinfo=UTC)
    in_flight, most_in_flight = 0, 0

    async def event(index: int) -> None:
        nonlocal in_flight, most_in_flight
        async with database.transaction() as session:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            await session.execute(text("SELECT 1"))  # the transaction is open
            await StatisticsRepository(session).add(
                key,
                Counters(
                    total_requests=1,
                    successful_payments=index % 2,
                    total_amount=Decimal("1.01"),
                    commission_amount=Decimal("0.05"),
                    processing_time_total=index,
                    processing_time_count=1,
                ),
                now,
            )
            # Hold the row's lock a little, so the other events queue on it.
            await session.execute(text("SELECT pg_sleep(0.002)"))
            in_flight -= 1

    try:
        await asyncio.gather(*(event(index) for index in range(EVENTS)))
    finally:
        await database.dispose()
    assert most_in_flight > 1  # the events really overlapped
    assert await stored(db, shop.id) == {
        (key.date, "sandbox", "USD"): counters(
            total_requests=EVENTS,
            successful_payments=EVENTS // 2,
            total_amount=Decimal("1.01") * EVENTS,
            commission_amount=Decimal("0.05") * EVENTS,
            processing_time_total=sum(range(EVENTS)),
            processing_time_count=EVENTS,
        )
    }


async def test_payments_paid_at_the_same_time_are_all_counted(factory, db):
    shop = await factory.merchant()
    payments = await asyncio.gather(*(shop.created() for _ in range(12)))
    await asyncio.gather(*(shop.checkout(payment["id"], "succeed") for payment in payments))
    paid = [await shop.get(payment["id"]) for payment in payments]
    assert {payment["status"] for payment in paid} == {"captured"}
    rows = await stored(db, shop.id)
    by_day: dict[date, int] = {}
    for payment in paid:
        by_day[day_of(payment)] = by_day.get(day_of(payment), 0) + 1
    assert {key[0]: row["total_requests"] for key, row in rows.items()} == by_day
    assert {key[0]: row["successful_payments"] for key, row in rows.items()} == by_day
    assert sum(row["successful_amount"] for row in rows.values()) == Decimal(150000 * 12)
