"""payment_logs is append-only, enforced by the database itself; a payment's audit rows are all
there, in order, tied to the payment and its merchant (design §2)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from payrelay.kit.db import Database
from payrelay.models import PaymentLog
from tests.factories import Factory
from tests.payment.helpers import event_types

APPEND_ONLY = "payment_logs is append-only"


async def log_rows(db: Database, payment_id: str) -> list[dict[str, Any]]:
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT id, event_type, actor, merchant_id, payment_request_id,"
                " payment_transaction_id, event_data, gateway_response, request_id, created_at"
                " FROM payment_logs WHERE payment_request_id = :payment_id ORDER BY id"
            ),
            {"payment_id": uuid.UUID(payment_id)},
        )
        return [dict(row) for row in result.mappings().all()]


async def refused(db: Database, statement: str, **params: Any) -> str:
    """Run the statement in its own transaction; it must fail. Returns the error text."""
    with pytest.raises(DBAPIError) as caught:
        async with db.transaction() as session:
            await session.execute(text(statement), params)
    return str(caught.value)


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        pytest.param(
            "UPDATE payment_logs SET event_type = 'payment.tampered' WHERE id = :id",
            "UPDATE",
            id="update-one-row",
        ),
        pytest.param(
            "UPDATE payment_logs SET event_data = NULL, actor = 'nobody'"
            " WHERE payment_request_id = :payment_id",
            "UPDATE",
            id="update-all-rows-of-a-payment",
        ),
        pytest.param("DELETE FROM payment_logs WHERE id = :id", "DELETE", id="delete-one-row"),
        pytest.param(
            "DELETE FROM payment_logs WHERE payment_request_id = :payment_id",
            "DELETE",
            id="delete-all-rows-of-a-payment",
        ),
        pytest.param("TRUNCATE payment_logs", "TRUNCATE", id="truncate"),
        pytest.param("TRUNCATE payment_logs CASCADE", "TRUNCATE", id="truncate-cascade"),
    ],
)
async def test_payment_logs_cannot_be_rewritten(
    factory: Factory, db: Database, statement: str, operation: str
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    before = await log_rows(db, payment["id"])
    assert before
    message = await refused(db, statement, id=before[0]["id"], payment_id=uuid.UUID(payment["id"]))
    assert APPEND_ONLY in message
    assert operation in message
    assert await log_rows(db, payment["id"]) == before


async def test_the_trigger_holds_for_a_no_op_update_too(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    payment = await shop.created()
    rows = await log_rows(db, payment["id"])
    message = await refused(
        db, "UPDATE payment_logs SET actor = actor WHERE id = :id", id=rows[0]["id"]
    )
    assert APPEND_ONLY in message


async def test_inserting_is_still_allowed(db: Database, factory: Factory) -> None:
    shop = await factory.merchant()
    payment = await shop.created()
    before = await log_rows(db, payment["id"])
    async with db.transaction() as session:
        session.add(
            PaymentLog(
                event_type="operator.note",
                actor="operator",
                merchant_id=shop.id,
                payment_request_id=uuid.UUID(payment["id"]),
                event_data={"note": "checked by hand"},
            )
        )
    after = await log_rows(db, payment["id"])
    assert after[:-1] == before
    assert after[-1]["event_type"] == "operator.note"
    assert after[-1]["id"] > before[-1]["id"]
    events = await shop.events(payment["id"])
    assert events[-1]["event_type"] == "operator.note"
    assert events[-1]["data"] == {"note": "checked by hand"}


async def test_every_step_of_a_payment_is_in_the_audit_rows(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    payment = await shop.authorized(amount="40.00", currency="USD")
    assert (await shop.command(payment["id"], "capture", {"amount": "30.00"})).status_code == 200
    for amount in ("10.00", "20.00"):
        response = await shop.command(payment["id"], "refund", {"amount": amount})
        assert response.status_code == 200, response.text
    # A refused command writes nothing.
    assert (await shop.command(payment["id"], "refund", {"amount": "0.01"})).status_code == 409

    rows = await log_rows(db, payment["id"])
    assert [row["event_type"] for row in rows] == [
        "payment.created",
        "payment.initiated",
        "payment.authorized",
        "webhook.received",
        "capture.requested",
        "capture.succeeded",
        "payment.captured",
        "refund.requested",
        "refund.succeeded",
        "payment.refunded",
        "refund.requested",
        "refund.succeeded",
        "payment.refunded",
    ]
    ids = [row["id"] for row in rows]
    assert ids == sorted(set(ids))
    assert all(row["merchant_id"] == shop.id for row in rows)
    transaction_ids = {row["payment_transaction_id"] for row in rows}
    assert len(transaction_ids) == 1
    assert None not in transaction_ids
    stamps = [row["created_at"] for row in rows]
    assert stamps == sorted(stamps)
    assert {row["actor"] for row in rows} == {"merchant", "gateway"}
    refunds = [row["event_data"] for row in rows if row["event_type"] == "payment.refunded"]
    assert [data["refund_amount"] for data in refunds] == ["10.00", "20.00"]
    assert refunds[-1]["status"] == "refunded"

    # The events endpoint is exactly these rows, in the same order.
    events = await shop.events(payment["id"])
    assert [event["id"] for event in events] == ids
    assert event_types(events) == [row["event_type"] for row in rows]
    assert [event["data"] for event in events] == [row["event_data"] for row in rows]

    # No audit row of this payment is attributed elsewhere.
    async with db.session() as session:
        stray = await session.execute(
            select(PaymentLog.id).where(
                PaymentLog.payment_transaction_id == rows[0]["payment_transaction_id"],
                PaymentLog.payment_request_id.is_distinct_from(uuid.UUID(payment["id"])),
            )
        )
        assert stray.all() == []


async def test_audit_rows_hold_no_secrets(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    rows = await log_rows(db, payment["id"])
    async with db.session() as session:
        config = await session.scalar(
            text("SELECT config FROM payment_gateways WHERE id = :id"),
            {"id": shop.sandbox_account_id},
        )
    secrets = [shop.api_key, shop.callback_secret, config["api_key"], config["webhook_secret"]]
    dumped = repr(rows)
    for secret in secrets:
        assert len(secret) >= 16
        assert secret not in dumped
