"""Escrow through the real API and the sandbox gateway: held at capture with the split, released
by the merchant (with its callback), scaled by partial capture, cancelled by void, reduced by
refunds before release and turned into the seller's debt by refunds after it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from tests.callback.receiver import Receiver
from tests.escrow.helpers import (
    audit_rows,
    callbacks,
    check_split,
    escrow_row,
    release,
    sale,
    set_hold_days,
    settled,
    transaction_row,
)
from tests.payment.helpers import event_types

URL = "http://127.0.0.1:9/callbacks"


async def test_a_sale_is_held_with_its_split_and_released_with_a_callback(factory, db):
    with Receiver() as receiver:
        shop = await factory.merchant(callback_url=receiver.url)
        payment = await shop.captured(amount="12500.00", currency="RSD", **sale("seller-7"))

        escrow = payment["escrow"]
        assert escrow["status"] == "held"
        assert (escrow["amount"], escrow["commission"], escrow["refunded_amount"]) == (
            "11875.00",
            "625.00",
            "0.00",
        )
        assert (escrow["released_amount"], escrow["released_at"], escrow["seller_debt"]) == (
            None,
            None,
            "0.00",
        )
        captured_at = datetime.fromisoformat(payment["captured_at"])
        assert datetime.fromisoformat(escrow["release_after"]) == captured_at + timedelta(days=14)
        row = await escrow_row(db, payment["id"])
        check_split(row, await transaction_row(db, payment["id"]))
        assert row["seller_id"] == "seller-7"

        response = await release(shop, payment["id"], reason="delivered", key=shop.new_key())

        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer == await shop.get(payment["id"])
        assert answer["escrow"]["status"] == "released"
        assert answer["escrow"]["released_amount"] == "11875.00"
        assert answer["escrow"]["amount"] == "11875.00"
        assert answer["escrow"]["released_at"] is not None
        assert answer["status"] == "captured"  # the payment itself does not move
        row = await escrow_row(db, payment["id"])
        assert (row["status"], row["released_amount"]) == ("released", Decimal("11875.00"))
        check_split(row, await transaction_row(db, payment["id"]))

        [callback] = await callbacks(db, payment["id"], "escrow.released")
        assert callback["payload"]["type"] == "escrow.released"
        assert callback["payload"]["data"] == answer
        assert (await settled(db, callback["id"]))["status"] == "delivered"
        [sent] = [r for r in receiver.received if json.loads(r.body)["type"] == "escrow.released"]
        assert json.loads(sent.body) == callback["payload"]
        assert json.loads(sent.body)["data"]["escrow"]["released_amount"] == "11875.00"

    events = await shop.events(payment["id"])
    assert [e for e in event_types(events) if e.startswith("escrow.")] == [
        "escrow.held",
        "escrow.released",
    ]
    [released] = [e for e in events if e["event_type"] == "escrow.released"]
    assert released["actor"] == "merchant"
    assert released["data"]["released_amount"] == "11875.00"
    assert released["data"]["reason"] == "delivered"


async def test_the_merchants_hold_period_sets_release_after(factory, db):
    shop = await factory.merchant()
    await set_hold_days(db, shop.id, 3)
    payment = await shop.captured(**sale())
    captured_at = datetime.fromisoformat(payment["captured_at"])
    assert datetime.fromisoformat(payment["escrow"]["release_after"]) == captured_at + timedelta(
        days=3
    )


async def test_authorization_opens_the_escrow_and_partial_capture_scales_the_split(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized(amount="12500.00", currency="RSD", **sale())
    opened = payment["escrow"]
    assert opened["status"] == "held"
    assert (opened["amount"], opened["commission"], opened["release_after"]) == (
        "0.00",
        "0.00",
        None,
    )
    not_yet = await release(shop, payment["id"])
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "escrow_not_releasable"

    captured = await shop.command(payment["id"], "capture", {"amount": "10000.00"})
    assert captured.status_code == 200, captured.text
    escrow = captured.json()["escrow"]
    assert (escrow["status"], escrow["amount"], escrow["commission"]) == (
        "held",
        "9500.00",
        "500.00",
    )
    assert escrow["release_after"] is not None
    check_split(await escrow_row(db, payment["id"]), await transaction_row(db, payment["id"]))
    # The payment's own split stays what it was at creation; the escrow shows the money kept.
    assert (captured.json()["marketplace_commission"], captured.json()["seller_amount"]) == (
        "625.00",
        "11875.00",
    )
    # The capture callback already carries the escrow.
    [callback] = await callbacks(db, payment["id"], "payment.captured")
    assert callback["payload"]["data"]["escrow"]["amount"] == "9500.00"
    logged = await audit_rows(db, payment["id"])
    assert [r["event_type"] for r in logged] == ["escrow.opened", "escrow.held"]
    assert logged[1]["event_data"]["seller_amount_change"] == "9500.00"
    assert logged[1]["event_data"]["commission_change"] == "500.00"


async def test_void_cancels_the_escrow(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized(**sale())
    voided = await shop.command(payment["id"], "void")
    assert voided.status_code == 200, voided.text
    assert voided.json()["escrow"]["status"] == "cancelled"
    row = await escrow_row(db, payment["id"])
    assert (row["status"], row["amount"], row["captured_amount"]) == ("cancelled", 0, 0)
    assert [r["event_type"] for r in await audit_rows(db, payment["id"])] == [
        "escrow.opened",
        "escrow.cancelled",
    ]
    refused = await release(shop, payment["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["escrow_status"] == "cancelled"


async def test_a_declined_payment_has_no_escrow(factory, db):
    shop = await factory.merchant()
    payment = await shop.created(**sale())
    assert payment["escrow"] is None
    declined = await shop.checkout(payment["id"], "decline")
    assert declined.status_code == 200, declined.text
    failed = await shop.get(payment["id"])
    assert failed["status"] == "failed"
    assert failed["escrow"] is None
    assert await escrow_row(db, payment["id"]) is None


async def test_refunds_before_release_come_out_of_the_held_share(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(amount="150000", currency="VND", **sale())
    assert payment["escrow"]["amount"] == "142500"

    part = await shop.command(payment["id"], "refund", {"amount": "33333"})
    assert part.status_code == 200, part.text
    escrow = part.json()["escrow"]
    assert (
        escrow["status"],
        escrow["amount"],
        escrow["commission"],
        escrow["refunded_amount"],
    ) == (
        "held",
        "110834",
        "5833",
        "33333",
    )
    check_split(await escrow_row(db, payment["id"]), await transaction_row(db, payment["id"]))

    rest = await shop.command(payment["id"], "refund")
    assert rest.status_code == 200, rest.text
    escrow = rest.json()["escrow"]
    assert (escrow["status"], escrow["amount"], escrow["commission"], escrow["seller_debt"]) == (
        "refunded",
        "0",
        "0",
        "0",
    )
    check_split(await escrow_row(db, payment["id"]), await transaction_row(db, payment["id"]))
    logged = await audit_rows(db, payment["id"])
    assert [r["event_type"] for r in logged] == [
        "escrow.held",
        "escrow.adjusted",
        "escrow.refunded",
    ]
    assert logged[1]["event_data"]["seller_amount_change"] == "-31666"
    assert logged[1]["event_data"]["commission_change"] == "-1667"
    refused = await release(shop, payment["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "escrow_not_releasable"


async def test_a_refund_after_release_records_the_sellers_debt(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized(amount="12500.00", currency="RSD", **sale())
    assert (await shop.command(payment["id"], "capture", {"amount": "10000.00"})).status_code == 200
    assert (await shop.command(payment["id"], "refund", {"amount": "1234.56"})).status_code == 200
    paid = await release(shop, payment["id"])
    assert paid.status_code == 200, paid.text
    assert paid.json()["escrow"]["released_amount"] == "8327.17"

    late = await shop.command(payment["id"], "refund", {"amount": "2000.00"})

    assert late.status_code == 200, late.text
    escrow = late.json()["escrow"]
    assert escrow["status"] == "refunded"
    assert (escrow["amount"], escrow["commission"], escrow["refunded_amount"]) == (
        "6427.17",
        "338.27",
        "3234.56",
    )
    assert (escrow["released_amount"], escrow["seller_debt"]) == ("8327.17", "1900.00")
    row = await escrow_row(db, payment["id"])
    check_split(row, await transaction_row(db, payment["id"]))
    assert row["seller_debt"] == Decimal("1900.00")
    logged = await audit_rows(db, payment["id"])
    assert [r["event_type"] for r in logged] == [
        "escrow.opened",
        "escrow.held",
        "escrow.adjusted",
        "escrow.released",
        "escrow.seller_debt",
    ]
    assert logged[-1]["event_data"]["seller_debt"] == "1900.00"
    # Only one payout, ever.
    again = await release(shop, payment["id"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "escrow_already_released"
    assert len(await callbacks(db, payment["id"], "escrow.released")) == 1
