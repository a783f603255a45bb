"""Releases racing each other and racing refunds: the payment lock serializes them, so there is
one payout, one callback, and the parts always add up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from payrelay.escrow.tasks import release_due
from tests.escrow.helpers import (
    audit_rows,
    callbacks,
    check_split,
    escrow_row,
    release,
    sale,
    transaction_row,
)

URL = "http://127.0.0.1:9/callbacks"


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


async def test_concurrent_releases_pay_out_once(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(**sale())

    responses = await asyncio.gather(
        *(release(shop, payment["id"], key=shop.new_key()) for _ in range(5))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409], [r.text for r in responses]
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 409]
    assert set(refused) == {"escrow_already_released"}
    assert len(await callbacks(db, payment["id"], "escrow.released")) == 1
    assert len(await audit_rows(db, payment["id"], "escrow.released")) == 1
    row = await escrow_row(db, payment["id"])
    assert row["status"] == "released"
    check_split(row, await transaction_row(db, payment["id"]))


async def test_the_merchant_and_the_worker_racing_pay_out_once(factory, db, settings, gateway_http):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(**sale())
    due = datetime.fromisoformat(payment["escrow"]["release_after"]) + timedelta(seconds=1)

    merchant, _ = await asyncio.gather(
        release(shop, payment["id"]), release_due(db, gateway_http, settings, lambda: due)
    )

    assert merchant.status_code in (200, 409), merchant.text
    assert len(await callbacks(db, payment["id"], "escrow.released")) == 1
    assert (await escrow_row(db, payment["id"]))["status"] == "released"


@pytest.mark.parametrize("refund_amount", ["40000", None])
async def test_a_release_racing_a_refund_keeps_the_parts_adding_up(factory, db, refund_amount):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(amount="150000", currency="VND", **sale())
    body = {} if refund_amount is None else {"amount": refund_amount}

    released, refunded = await asyncio.gather(
        release(shop, payment["id"]), shop.command(payment["id"], "refund", body)
    )

    assert refunded.status_code == 200, refunded.text
    row = await escrow_row(db, payment["id"])
    check_split(row, await transaction_row(db, payment["id"]))
    payouts = await callbacks(db, payment["id"], "escrow.released")
    if released.status_code == 200:
        # Paid out first (the whole share or what the refund left): any later refund is debt.
        assert len(payouts) == 1
        assert row["released_amount"] is not None
        assert row["status"] in ("released", "refunded")
    else:
        # The refund was in flight (or everything was refunded): nothing was paid out.
        assert released.status_code == 409, released.text
        assert released.json()["error"]["code"] in (
            "operation_in_progress",
            "escrow_not_releasable",
        )
        assert payouts == []
        assert row["released_amount"] is None
        assert row["status"] == ("held" if refund_amount else "refunded")
