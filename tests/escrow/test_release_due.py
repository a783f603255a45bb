"""The worker releases held escrow once its hold period is over — driven with a clock the test
controls — and never before, never twice, never while a refund is in flight."""

from __future__ import annotations

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
    sale,
    transaction_row,
)
from tests.idempotency.helpers import execute

URL = "http://127.0.0.1:9/callbacks"


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


def at(moment: datetime):
    return lambda: moment


async def test_held_escrow_is_released_after_its_hold_and_not_before(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(amount="12500.00", currency="RSD", **sale())
    release_after = datetime.fromisoformat(payment["escrow"]["release_after"])

    await release_due(db, gateway_http, settings, at(release_after - timedelta(seconds=1)))
    assert (await escrow_row(db, payment["id"]))["status"] == "held"
    assert await callbacks(db, payment["id"], "escrow.released") == []

    released = await release_due(db, gateway_http, settings, at(release_after))

    assert released >= 1
    row = await escrow_row(db, payment["id"])
    assert (row["status"], str(row["released_amount"])) == ("released", "11875.0000")
    assert row["released_at"] == release_after
    check_split(row, await transaction_row(db, payment["id"]))
    after = await shop.get(payment["id"])
    assert after["escrow"]["status"] == "released"
    [callback] = await callbacks(db, payment["id"], "escrow.released")
    assert callback["payload"]["data"]["escrow"]["released_amount"] == "11875.00"
    [logged] = await audit_rows(db, payment["id"], "escrow.released")
    assert logged["actor"] == "system"
    assert logged["event_data"]["reason"] == "hold period over"

    # Nothing is released twice.
    await release_due(db, gateway_http, settings, at(release_after + timedelta(days=30)))
    assert len(await callbacks(db, payment["id"], "escrow.released")) == 1
    assert len(await audit_rows(db, payment["id"], "escrow.released")) == 1


async def test_an_authorization_is_never_released_and_refunded_escrow_stays(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant()
    authorized = await shop.authorized(**sale())
    refunded = await shop.captured(**sale())
    assert (await shop.command(refunded["id"], "refund")).status_code == 200

    await release_due(
        db,
        gateway_http,
        settings,
        at(datetime.fromisoformat(refunded["escrow"]["release_after"]) + timedelta(days=365)),
    )

    assert (await escrow_row(db, authorized["id"]))["status"] == "held"
    assert (await escrow_row(db, refunded["id"]))["status"] == "refunded"
    assert await callbacks(db, refunded["id"], "escrow.released") == []


async def test_escrow_with_a_refund_in_flight_waits_for_it(factory, db, settings, gateway_http):
    shop = await factory.merchant()
    payment = await shop.captured(**sale())
    release_after = datetime.fromisoformat(payment["escrow"]["release_after"])
    # A refund recorded but not settled yet (as while its gateway call is running).
    await execute(
        db,
        """
        INSERT INTO payment_operations (id, payment_transaction_id, merchant_id, kind, amount,
            status, gateway_idempotency_key, created_at, updated_at)
        SELECT gen_random_uuid(), t.id, t.merchant_id, 'refund', 1000, 'unknown',
            'test-' || gen_random_uuid(), now(), now()
        FROM payment_transactions t WHERE t.payment_request_id = :p
        """,
        p=payment["id"],
    )

    await release_due(db, gateway_http, settings, at(release_after + timedelta(seconds=1)))

    assert (await escrow_row(db, payment["id"]))["status"] == "held"
    await execute(
        db,
        """
        UPDATE payment_operations SET status = 'failed'
        WHERE kind = 'refund' AND payment_transaction_id =
            (SELECT id FROM payment_transactions WHERE payment_request_id = :p)
        """,
        p=payment["id"],
    )
    await release_due(db, gateway_http, settings, at(release_after + timedelta(seconds=1)))
    assert (await escrow_row(db, payment["id"]))["status"] == "released"
