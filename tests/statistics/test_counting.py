"""Each counter over real flows through the API and the sandbox gateway: sale, decline, partial
capture, refunds, void, expiry; and the day each payment is counted on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from payrelay.connectors.base import GatewayEvent, PaymentOutcome
from payrelay.merchant import service as merchant_service
from payrelay.payment import results as payment_results
from payrelay.payment import service as payment_service
from payrelay.payment.schemas import CreatePaymentIn
from payrelay.payment.tasks import expire_due
from payrelay.statistics import tasks as statistics_tasks
from payrelay.statistics.service import Period
from tests.statistics.helpers import (
    RowKey,
    add,
    counters,
    day_of,
    only_row,
    seconds_between,
    set_timezone,
    stored,
)


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


async def test_a_sale_counts_request_success_revenue_commission_and_time(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    key, row = await only_row(db, shop.id)
    assert key == (day_of(payment), "sandbox", "VND")
    assert row == counters(
        total_requests=1,
        successful_payments=1,
        total_amount="150000",
        successful_amount="150000",
        commission_amount="7500",
        processing_time_total=seconds_between(payment, "created_at", "captured_at"),
        processing_time_count=1,
    )


async def test_a_decline_counts_a_failure_and_its_time_but_no_money(factory, db):
    shop = await factory.merchant()
    payment = await shop.created()
    await shop.checkout(payment["id"], "decline")
    payment = await shop.get(payment["id"])
    assert payment["status"] == "failed"
    _, row = await only_row(db, shop.id)
    assert row == counters(
        total_requests=1,
        failed_payments=1,
        total_amount="150000",
        processing_time_total=seconds_between(payment, "created_at", "failed_at"),
        processing_time_count=1,
    )


async def test_a_pending_payment_counts_only_as_a_request(factory, db):
    shop = await factory.merchant()
    await shop.created(amount="99000")
    _, row = await only_row(db, shop.id)
    assert row == counters(total_requests=1, total_amount="99000")


async def test_a_partial_capture_counts_what_was_captured_and_its_commission(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    _, authorized = await only_row(db, shop.id)
    decided = seconds_between(payment, "created_at", "authorized_at")
    # Processing ends with the authorization; the capture is the merchant's later decision.
    assert authorized == counters(
        total_requests=1,
        total_amount="150000",
        processing_time_total=decided,
        processing_time_count=1,
    )
    response = await shop.command(payment["id"], "capture", {"amount": "100000"})
    assert response.status_code == 200, response.text
    _, row = await only_row(db, shop.id)
    assert row == counters(
        total_requests=1,
        successful_payments=1,
        total_amount="150000",
        successful_amount="100000",
        commission_amount="5000",  # 7500 × 100000 / 150000
        processing_time_total=decided,
        processing_time_count=1,
    )


async def test_refunds_add_up_and_take_the_commission_back(factory, db):
    shop = await factory.merchant(commission_rate=Decimal("0.03"))
    payment = await shop.captured(amount="10.00", currency="USD")
    processing = seconds_between(payment, "created_at", "captured_at")

    async def refund(amount: str) -> None:
        response = await shop.command(payment["id"], "refund", {"amount": amount})
        assert response.status_code == 200, response.text

    await refund("3.33")
    _, row = await only_row(db, shop.id)
    # 0.30 × 6.67 / 10 = 0.2001 → 0.20
    assert row == counters(
        total_requests=1,
        successful_payments=1,
        total_amount="10.00",
        successful_amount="10.00",
        refunded_amount="3.33",
        commission_amount="0.20",
        processing_time_total=processing,
        processing_time_count=1,
    )
    await refund("6.67")
    key, row = await only_row(db, shop.id)
    assert key[2] == "USD"
    assert row == counters(
        total_requests=1,
        successful_payments=1,
        total_amount="10.00",
        successful_amount="10.00",
        refunded_amount="10.00",
        commission_amount="0",
        processing_time_total=processing,
        processing_time_count=1,
    )


async def test_a_void_counts_the_authorization_time_and_nothing_else(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    response = await shop.command(payment["id"], "void")
    assert response.status_code == 200, response.text
    _, row = await only_row(db, shop.id)
    assert row == counters(
        total_requests=1,
        total_amount="150000",
        processing_time_total=seconds_between(payment, "created_at", "authorized_at"),
        processing_time_count=1,
    )


async def test_an_expired_payment_is_a_request_neither_successful_nor_failed(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant()
    payment = await shop.created(expires_in=60)
    moment = datetime.now(UTC) + timedelta(seconds=61)
    await expire_due(db, gateway_http, settings, lambda: moment)
    assert (await shop.get(payment["id"]))["status"] == "expired"
    _, row = await only_row(db, shop.id)
    assert row == counters(total_requests=1, total_amount="150000")


async def test_payments_of_one_day_gateway_and_currency_share_a_row(factory, db):
    shop = await factory.merchant()
    sale = await shop.captured()
    declined = await shop.created(amount="50000")
    await shop.checkout(declined["id"], "decline")
    declined = await shop.get(declined["id"])
    euros = await shop.captured(amount="12.50", currency="EUR")
    expected: dict[RowKey, dict[str, Any]] = {}
    for key, row in (
        (
            (day_of(sale), "sandbox", "VND"),
            counters(
                total_requests=1,
                successful_payments=1,
                total_amount="150000",
                successful_amount="150000",
                commission_amount="7500",
                processing_time_total=seconds_between(sale, "created_at", "captured_at"),
                processing_time_count=1,
            ),
        ),
        (
            (day_of(declined), "sandbox", "VND"),
            counters(
                total_requests=1,
                failed_payments=1,
                total_amount="50000",
                processing_time_total=seconds_between(declined, "created_at", "failed_at"),
                processing_time_count=1,
            ),
        ),
        (
            (day_of(euros), "sandbox", "EUR"),
            counters(
                total_requests=1,
                successful_payments=1,
                total_amount="12.50",
                successful_amount="12.50",
                commission_amount="0.62",  # 5 % of 12.50 = 0.625, half-even
                processing_time_total=seconds_between(euros, "created_at", "captured_at"),
                processing_time_count=1,
            ),
        ),
    ):
        expected[key] = add(expected[key], row) if key in expected else row
    assert await stored(db, shop.id) == expected


async def test_the_day_is_the_creation_day_in_the_merchants_time_zone(factory, db):
    """Created at 23:30 UTC on the 10th: the 11th in Ho Chi Minh City (UTC+7). Captured at
    18:00 UTC on the 11th (01:00 on the 12th there): still counted on the 11th."""
    shop = await factory.merchant()
    await set_timezone(db, shop.id, "Asia/Ho_Chi_Minh")
    created_at = datetime(2030, 3, 10, 23, 30, tzinfo=UTC)
    captured_at = datetime(2030, 3, 11, 18, 0, tzinfo=UTC)
    async with db.transaction() as session:
        merchant = await merchant_service.get_merchant(session, shop.id)
        assert merchant is not None
        target = await payment_service.create_draft(
            session,
            merchant,
            CreatePaymentIn(
                order_id="late-night", amount="150000", currency="VND", gateway="sandbox"
            ),
            idempotency_key="late-night",
            fingerprint="late-night",
            options=payment_service.CreateOptions(
                allow_private_callbacks=True,
                duplicate_charge_window=timedelta(minutes=5),
                default_expires_in=timedelta(days=3),
            ),
            now=created_at,
        )
    async with db.transaction() as session:
        await payment_results.apply_gateway_event(
            session,
            target.row.transaction.id,
            GatewayEvent(
                event_id="late-night-capture",
                event_type="payment.captured",
                outcome=PaymentOutcome.CAPTURED,
                gateway_status="SUCCEEDED",
                occurred_at=captured_at,
            ),
            now=captured_at,
        )
    key, row = await only_row(db, shop.id)
    assert key == (date(2030, 3, 11), "sandbox", "VND")
    assert row == counters(
        total_requests=1,
        successful_payments=1,
        total_amount="150000",
        successful_amount="150000",
        commission_amount="7500",
        processing_time_total=int((captured_at - created_at).total_seconds()),
        processing_time_count=1,
    )
    # The rebuild puts it on the same day, from the payment's own columns.
    period = await statistics_tasks.plan_rebuild(db, shop.id, first=None, last=None)
    assert period == Period(date(2030, 3, 11), date(2030, 3, 11))
    results = await statistics_tasks.rebuild(
        db, period, merchant_id=shop.id, fix=False, clock=lambda: captured_at
    )
    assert [(result.day, result.rows, result.differences) for result in results] == [
        (date(2030, 3, 11), 1, [])
    ]
