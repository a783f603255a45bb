"""The rebuild recomputes the statistics from the payments: after a random workload through
the API it agrees with what was counted incrementally; a tampered row is reported and fixed;
a change of time zone is restated."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from payrelay.kit.db import Database
from payrelay.merchant.service import MerchantNotFound
from payrelay.payment.tasks import expire_due
from payrelay.statistics import tasks as statistics_tasks
from payrelay.statistics.rebuild import DayResult, Difference
from payrelay.statistics.service import InvalidDateRange, Period
from tests.factories import MerchantClient
from tests.statistics.helpers import day_of, fold, set_timezone, stored

CURRENCIES = {"VND": (10_000, 5_000_000, 0), "USD": (100, 250_000, 2), "KWD": (1_000, 90_000, 3)}


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


def _now() -> datetime:
    return datetime.now(UTC)


async def rebuild(db: Database, merchant_id: uuid.UUID, *, fix: bool) -> list[DayResult]:
    period = await statistics_tasks.plan_rebuild(db, merchant_id, first=None, last=None)
    assert period is not None
    return await statistics_tasks.rebuild(db, period, merchant_id=merchant_id, fix=fix, clock=_now)


def differences(results: list[DayResult]) -> list[Difference]:
    return [difference for result in results for difference in result.differences]


class Workload:
    """A seeded random mix of payments through the API."""

    def __init__(self, shop: MerchantClient, seed: int) -> None:
        self.shop = shop
        self.rng = random.Random(seed)

    def amount(self, currency: str, ceiling: Decimal | None = None) -> str:
        low, high, exponent = CURRENCIES[currency]
        if ceiling is not None:
            high = int(ceiling.scaleb(exponent))
            low = 1
        return f"{Decimal(self.rng.randint(low, high)).scaleb(-exponent):f}"

    async def refund_some(self, payment: dict[str, Any]) -> None:
        for _ in range(self.rng.choice([0, 1, 1, 2, 3])):
            left = Decimal(payment["captured_amount"]) - Decimal(payment["refunded_amount"])
            if left <= 0:
                return
            whole = self.rng.random() < 0.25
            body = {} if whole else {"amount": self.amount(payment["currency"], left)}
            response = await self.shop.command(payment["id"], "refund", body)
            assert response.status_code == 200, response.text
            payment = response.json()

    async def one(self) -> None:
        shop, rng = self.shop, self.rng
        currency = rng.choice(list(CURRENCIES))
        amount = self.amount(currency)
        kind = rng.choice(["sale", "sale", "manual", "manual", "decline", "pending", "expire"])
        if kind == "sale":
            await self.refund_some(await shop.captured(amount=amount, currency=currency))
        elif kind == "manual":
            payment = await shop.authorized(amount=amount, currency=currency)
            if rng.random() < 0.2:
                response = await shop.command(payment["id"], "void")
            else:
                partial = rng.random() < 0.5
                body = {"amount": self.amount(currency, Decimal(amount))} if partial else {}
                response = await shop.command(payment["id"], "capture", body)
            assert response.status_code == 200, response.text
            if response.json()["status"] == "captured":
                await self.refund_some(response.json())
        elif kind == "decline":
            payment = await shop.created(amount=amount, currency=currency)
            await shop.checkout(payment["id"], "decline")
        elif kind == "pending":
            await shop.created(amount=amount, currency=currency)
        else:
            await shop.created(amount=amount, currency=currency, expires_in=60)


async def test_incremental_equals_rebuilt_after_a_random_workload(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant(commission_rate=Decimal("0.035"))
    await set_timezone(db, shop.id, "America/Sao_Paulo")
    workload = Workload(shop, seed=20261122)
    for _ in range(45):
        await workload.one()
    await expire_due(db, gateway_http, settings, lambda: _now() + timedelta(seconds=61))

    async with db.session() as session:
        result = await session.execute(
            text("SELECT DISTINCT status FROM payment_transactions WHERE merchant_id = :m"),
            {"m": shop.id},
        )
        statuses = set(result.scalars())
    assert statuses >= {
        "captured",
        "partially_refunded",
        "refunded",
        "failed",
        "voided",
        "expired",
        "pending",
    }
    counted = await stored(db, shop.id)
    assert {currency for _, _, currency in counted} == set(CURRENCIES)

    results = await rebuild(db, shop.id, fix=False)
    assert differences(results) == []
    assert sum(result.rows for result in results) == len(counted)
    # Fixing with nothing to fix changes nothing.
    assert differences(await rebuild(db, shop.id, fix=True)) == []
    assert await stored(db, shop.id) == counted


async def test_a_tampered_row_is_reported_by_check_and_fixed_by_rebuild(factory, db):
    shop = await factory.merchant()
    await shop.captured()
    await shop.captured(amount="20.00", currency="USD")
    counted = await stored(db, shop.id)
    (vnd_key,) = [key for key in counted if key[2] == "VND"]
    (usd_key,) = [key for key in counted if key[2] == "USD"]
    stray_day = vnd_key[0] + timedelta(days=3)  # a day without payments
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE payment_statistics SET successful_payments = successful_payments + 2, "
                "commission_amount = commission_amount + 1 "
                "WHERE merchant_id = :m AND currency = 'VND'"
            ),
            {"m": shop.id},
        )
        await session.execute(
            text("DELETE FROM payment_statistics WHERE merchant_id = :m AND currency = 'USD'"),
            {"m": shop.id},
        )
        await session.execute(
            text(
                "INSERT INTO payment_statistics (date, merchant_id, gateway_name, currency, "
                "total_requests, total_amount) VALUES (:day, :m, 'sandbox', 'EUR', 3, 30)"
            ),
            {"day": stray_day, "m": shop.id},
        )
    tampered = await stored(db, shop.id)

    found = differences(await rebuild(db, shop.id, fix=False))
    as_text = {
        (d.key.date, d.key.currency, d.field, d.shown(d.stored), d.shown(d.rebuilt)) for d in found
    }
    usd_seconds = counted[usd_key]["processing_time_total"]
    assert as_text == {
        (vnd_key[0], "VND", "successful_payments", "3", "1"),
        (vnd_key[0], "VND", "commission_amount", "7501", "7500"),
        (usd_key[0], "USD", "total_requests", "0", "1"),
        (usd_key[0], "USD", "successful_payments", "0", "1"),
        (usd_key[0], "USD", "total_amount", "0.00", "20.00"),
        (usd_key[0], "USD", "successful_amount", "0.00", "20.00"),
        (usd_key[0], "USD", "commission_amount", "0.00", "1.00"),
        (usd_key[0], "USD", "processing_time_count", "0", "1"),
        (stray_day, "EUR", "total_requests", "3", "0"),
        (stray_day, "EUR", "total_amount", "30.00", "0.00"),
    } | (
        {(usd_key[0], "USD", "processing_time_total", "0", str(usd_seconds))}
        if usd_seconds
        else set()
    )
    assert await stored(db, shop.id) == tampered  # --check changes nothing

    fixed = differences(await rebuild(db, shop.id, fix=True))
    assert len(fixed) == len(found)
    assert await stored(db, shop.id) == counted
    assert differences(await rebuild(db, shop.id, fix=False)) == []
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT event_data FROM payment_logs "
                "WHERE merchant_id = :m AND event_type = 'statistics.rebuilt'"
            ),
            {"m": shop.id},
        )
        audited = [correction for data in result.scalars() for correction in data["corrections"]]
    assert len(audited) == len(found)


async def test_a_new_time_zone_is_restated_by_the_rebuild_and_counting_goes_on(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    await shop.created(amount="70000")
    before = await stored(db, shop.id)
    # A zone whose date differs from UTC's now: +14 h after 10:00 UTC, −11 h before 11:00.
    zone = "Pacific/Kiritimati" if _now().hour >= 10 else "Pacific/Pago_Pago"
    await set_timezone(db, shop.id, zone)

    ((old_day, _, _),) = before
    new_day = day_of(payment, zone)
    assert new_day != old_day
    # Counted history stays until the rebuild restates it: the old day emptied, the new filled.
    assert await stored(db, shop.id) == before
    found = differences(await rebuild(db, shop.id, fix=False))
    assert {d.key.date for d in found} == {old_day, new_day}
    await rebuild(db, shop.id, fix=True)
    (restated,) = (await stored(db, shop.id)).values()
    (original,) = before.values()
    assert restated == original

    # Events after the restatement land on the restated day, and the two agree again.
    response = await shop.command(payment["id"], "refund", {"amount": "50000"})
    assert response.status_code == 200, response.text
    assert differences(await rebuild(db, shop.id, fix=False)) == []
    (after,) = (await stored(db, shop.id)).values()
    assert after["refunded_amount"] == Decimal("50000")


async def test_a_rebuild_of_a_merchant_leaves_other_merchants_alone(factory, db):
    shop, other = await factory.merchant(), await factory.merchant()
    await shop.captured()
    await other.captured()
    await fold(db)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE payment_statistics SET total_requests = 5 WHERE merchant_id = :m"),
            {"m": other.id},
        )
    tampered = await stored(db, other.id)
    assert differences(await rebuild(db, shop.id, fix=True)) == []
    assert await stored(db, other.id) == tampered
    assert [d.field for d in differences(await rebuild(db, other.id, fix=True))] == [
        "total_requests"
    ]


async def test_a_range_is_narrowed_to_the_days_with_data_and_must_be_in_order(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    day = day_of(payment)
    wide = await statistics_tasks.plan_rebuild(
        db, shop.id, first=day - timedelta(days=3000), last=day + timedelta(days=3000)
    )
    assert wide == Period(day, day)
    assert (
        await statistics_tasks.plan_rebuild(db, shop.id, first=day + timedelta(days=1), last=None)
        is None
    )
    with pytest.raises(InvalidDateRange):
        await statistics_tasks.plan_rebuild(db, shop.id, first=day, last=day - timedelta(days=1))
    with pytest.raises(MerchantNotFound):
        await statistics_tasks.plan_rebuild(db, uuid.UUID(int=5), first=None, last=None)
