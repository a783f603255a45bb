"""GET /api/v1/statistics/daily: the merchant's rows in its time zone, totals per currency
(never summed across currencies), filters, and every bad input refused with a clear 422."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import MerchantClient
from tests.payment.helpers import assert_error, assert_validation_error
from tests.statistics.helpers import day_of, set_timezone, table_count

PATH = "/api/v1/statistics/daily"


def today(timezone: str) -> set[date]:
    """Today in `timezone` (both dates, if a test runs across midnight)."""
    now = datetime.now(UTC)
    return {
        moment.astimezone(ZoneInfo(timezone)).date() for moment in (now, now + timedelta(seconds=5))
    }


async def read(shop, **params: str) -> dict[str, Any]:
    response = await shop.http.get(PATH, params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Seeded:
    shop: MerchantClient
    payments: list[dict[str, Any]]


@pytest.fixture(scope="module")
async def seeded(factory_module, db) -> Seeded:
    """A merchant in Ho Chi Minh City with payments in two currencies."""
    shop = await factory_module.merchant(name="Stats shop")
    await set_timezone(db, shop.id, "Asia/Ho_Chi_Minh")
    payments = [
        await shop.captured(amount="150000"),
        await shop.captured(amount="250000"),
        await shop.created(amount="100000"),
        await shop.captured(amount="10.00", currency="USD"),
    ]
    declined = await shop.created(amount="5.00", currency="USD")
    await shop.checkout(declined["id"], "decline")
    payments.append(await shop.get(declined["id"]))
    refund = await shop.command(payments[1]["id"], "refund", {"amount": "50000"})
    assert refund.status_code == 200, refund.text
    return Seeded(shop, payments)


@pytest.fixture
def shop(seeded: Seeded) -> MerchantClient:
    return seeded.shop


async def test_the_last_30_days_in_the_merchants_time_zone_with_totals_per_currency(shop, seeded):
    body = await read(shop)
    assert body["timezone"] == "Asia/Ho_Chi_Minh"
    last = date.fromisoformat(body["to"])
    assert last in today("Asia/Ho_Chi_Minh")
    assert date.fromisoformat(body["from"]) == last - timedelta(days=29)
    days = {day["date"] for day in body["days"]}
    assert days == {day_of(payment, "Asia/Ho_Chi_Minh").isoformat() for payment in seeded.payments}
    if len(days) > 1:  # the test ran across midnight in Ho Chi Minh City: totals still hold
        return
    (day,) = days
    assert body["days"] == [
        {
            "date": day,
            "gateway": "sandbox",
            "currency": "USD",
            "total_requests": 2,
            "successful_payments": 1,
            "failed_payments": 1,
            "success_rate": "50.00",
            "total_amount": "15.00",
            "successful_amount": "10.00",
            "refunded_amount": "0.00",
            "commission_amount": "0.50",
            "average_processing_time": body["days"][0]["average_processing_time"],
        },
        {
            "date": day,
            "gateway": "sandbox",
            "currency": "VND",
            "total_requests": 3,
            "successful_payments": 2,
            "failed_payments": 0,
            "success_rate": "66.67",
            "total_amount": "500000",
            "successful_amount": "400000",
            "refunded_amount": "50000",
            "commission_amount": "17500",  # 7500 + 12500 × 200000 / 250000
            "average_processing_time": body["days"][1]["average_processing_time"],
        },
    ]
    assert [day["average_processing_time"] >= 0 for day in body["days"]] == [True, True]


async def test_totals_are_per_currency_and_never_summed_across(shop):
    body = await read(shop)
    totals = {total["currency"]: total for total in body["totals"]}
    assert set(totals) == {"USD", "VND"}
    assert totals["USD"]["successful_amount"] == "10.00"
    assert totals["USD"]["total_amount"] == "15.00"
    assert totals["VND"]["successful_amount"] == "400000"
    assert totals["VND"]["total_requests"] == 3
    assert totals["VND"]["success_rate"] == "66.67"
    for currency, total in totals.items():
        rows = [day for day in body["days"] if day["currency"] == currency]
        assert total["total_requests"] == sum(day["total_requests"] for day in rows)


async def test_filters_by_currency_and_gateway(shop):
    usd = await read(shop, currency="usd")
    assert {day["currency"] for day in usd["days"]} == {"USD"}
    assert [total["currency"] for total in usd["totals"]] == ["USD"]
    sandbox = await read(shop, gateway="sandbox")
    assert len(sandbox["days"]) == len((await read(shop))["days"])
    other = await read(shop, gateway="momo")
    assert other["days"] == []
    assert other["totals"] == []


async def test_an_explicit_range_is_read_as_given(shop, seeded):
    first = day_of(seeded.payments[0], "Asia/Ho_Chi_Minh")
    body = await read(shop, **{"from": first.isoformat(), "to": first.isoformat()})
    assert (body["from"], body["to"]) == (first.isoformat(), first.isoformat())
    assert {day["date"] for day in body["days"]} == {first.isoformat()}
    earlier = first - timedelta(days=400)
    body = await read(
        shop, **{"from": earlier.isoformat(), "to": (earlier + timedelta(days=365)).isoformat()}
    )
    assert body["days"] == []
    assert body["totals"] == []
    only_to = await read(shop, to=first.isoformat())
    assert only_to["from"] == (first - timedelta(days=29)).isoformat()


async def test_a_merchant_sees_only_its_own_statistics(shop, factory):
    stranger = await factory.merchant()
    body = await read(stranger)
    assert body["timezone"] == "UTC"
    assert body["days"] == []
    assert body["totals"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-03-10", "to": "2026-03-01"}, "invalid_date_range"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "invalid_date_range"),  # 367 days
        ({"from": "2099-01-01"}, "invalid_date_range"),  # after today
        ({"to": "0001-01-05"}, "invalid_date_range"),
        ({"gateway": "visa"}, "unknown_gateway"),
        ({"currency": "XYZ"}, "unsupported_currency"),
    ],
)
async def test_bad_input_is_a_422_and_changes_nothing(shop, db, params, code):
    rows = await table_count(db)
    response = await shop.http.get(PATH, params=params, headers=shop.headers)
    assert_error(response, 422, code)
    assert await table_count(db) == rows


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-13-01"}, {"to": "yesterday"}, {"currency": "US"}, {"gateway": "x" * 40}],
)
async def test_malformed_parameters_are_validation_errors(shop, params):
    response = await shop.http.get(PATH, params=params, headers=shop.headers)
    assert_validation_error(response)


async def test_the_statistics_need_an_api_key(http):
    response = await http.get(PATH)
    assert_error(response, 401, "unauthorized")
