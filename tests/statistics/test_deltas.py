"""Payments append statistics deltas; the worker folds them into the daily rows. Readers see
the sum of both at every moment, folds may run at once with each other and with new events,
and the rebuild treats a pending delta as stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text

from payrelay.kit.db import Database, DatabaseOptions
from payrelay.statistics import tasks as statistics_tasks
from payrelay.statistics.counters import Counters, Key
from payrelay.statistics.repository import StatisticsRepository
from tests.statistics.helpers import counters, fold, stored

NOW = datetime(2031, 3, 1, 12, tzinfo=UTC)
ONE = Counters(
    total_requests=1, total_amount=Decimal("2.50"), processing_time_total=3, processing_time_count=1
)


async def pending(db: Database) -> int:
    async with db.session() as session:
        return await StatisticsRepository(session).pending_deltas()


async def add(db: Database, key: Key, change: Counters = ONE) -> None:
    async with db.transaction() as session:
        await StatisticsRepository(session).add(key, change, NOW)


async def report(db: Database, key: Key) -> dict[date, Counters]:
    async with db.session() as session:
        rows = await StatisticsRepository(session).rows(key.merchant_id, key.date, key.date)
    return {row.key.date: row.counters for row in rows}


async def test_the_report_counts_deltas_before_and_after_the_fold(factory, db):
    shop = await factory.merchant()
    key = Key(date(2031, 3, 1), shop.id, "sandbox", "USD")
    await fold(db)
    await add(db, key)
    await fold(db)  # one folded into the row...
    await add(db, key)
    await add(db, key, Counters(refunded_amount=Decimal("1.25")))  # ...two still pending
    expected = Counters(
        total_requests=2,
        total_amount=Decimal("5.00"),
        refunded_amount=Decimal("1.25"),
        processing_time_total=6,
        processing_time_count=2,
    )
    assert await report(db, key) == {key.date: expected}
    assert await fold(db) >= 2
    assert await report(db, key) == {key.date: expected}
    assert (await stored(db, shop.id))[(key.date, "sandbox", "USD")] == counters(
        total_requests=2,
        total_amount="5.00",
        refunded_amount="1.25",
        processing_time_total=6,
        processing_time_count=2,
    )


async def test_folds_racing_each_other_and_new_events_lose_and_double_nothing(
    factory, db, database_url
):
    shop = await factory.merchant()
    keys = [Key(date(2031, 3, day), shop.id, "sandbox", "EUR") for day in (1, 2, 3)]
    database = Database(database_url, DatabaseOptions(pool_size=12, max_overflow=0))
    events = 150

    async def event(index: int) -> None:
        await add(database, keys[index % 3], Counters(total_requests=1, total_amount=Decimal(1)))

    async def folder() -> int:
        folded = 0
        for _ in range(10):
            folded += await statistics_tasks.fold_pending(database, lambda: NOW, batch=7)
            await asyncio.sleep(0)
        return folded

    try:
        results = await asyncio.gather(
            *(event(index) for index in range(events)), folder(), folder(), folder()
        )
    finally:
        await database.dispose()
    assert sum(result for result in results if result is not None) > 0  # folds ran meanwhile
    rows = await stored(db, shop.id)
    assert {key[0]: row["total_requests"] for key, row in rows.items()} == {
        key.date: events // 3 for key in keys
    }
    assert sum(row["total_amount"] for row in rows.values()) == Decimal(events)
    assert await pending(db) == 0 or await fold(db) == 0


async def test_a_fold_that_fails_leaves_its_deltas_pending(factory, db):
    """The delete and the upsert are one statement: when the upsert is refused, the deltas
    stay where they were, to be folded once the cause is fixed."""
    shop = await factory.merchant()
    key = Key(date(2031, 3, 5), shop.id, "sandbox", "USD")
    await add(db, key, Counters(total_requests=1, total_amount=Decimal("-1")))  # breaks a CHECK
    with_bad_delta = await report(db, key)
    try:
        await fold(db)
    except Exception as exc:  # the row's counters must never go negative
        assert "counters_non_negative" in str(exc)
    else:
        raise AssertionError("a negative total was folded")
    assert await report(db, key) == with_bad_delta
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE payment_statistics_deltas SET total_amount = 1 WHERE merchant_id = :m"),
            {"m": shop.id},
        )
    await fold(db)
    assert (await stored(db, shop.id))[(key.date, "sandbox", "USD")]["total_amount"] == 1


async def test_the_rebuild_counts_a_pending_delta_as_stored(factory, db):
    shop = await factory.merchant()
    await shop.captured()
    await fold(db)
    ((day, gateway, currency),) = await stored(db, shop.id)
    stray = Counters(failed_payments=2)
    await add(db, Key(day, shop.id, gateway, currency), stray)  # pending, never folded

    async def rebuild(*, fix: bool) -> list[str]:
        period = await statistics_tasks.plan_rebuild(db, shop.id, first=None, last=None)
        assert period is not None
        results = await statistics_tasks.rebuild(
            db, period, merchant_id=shop.id, fix=fix, clock=lambda: NOW
        )
        return [
            f"{difference.field}: {difference.stored} -> {difference.rebuilt}"
            for result in results
            for difference in result.differences
        ]

    assert await rebuild(fix=True) == ["failed_payments: 2 -> 0"]
    assert await pending(db) == 0  # folded by the rebuild, in its snapshot
    assert await rebuild(fix=False) == []
    assert (await stored(db, shop.id))[(day, gateway, currency)]["failed_payments"] == 0
