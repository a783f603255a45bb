"""The inbox is applied by the worker: a row claimed by a worker that died is taken over."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from payrelay.config import Settings
from payrelay.connectors.base import IncomingWebhook
from payrelay.connectors.sandbox import webhooks
from payrelay.models import PaymentGateway, PaymentWebhook
from payrelay.webhook_in import service as webhook_service
from payrelay.webhook_in import tasks as webhook_tasks
from payrelay.webhook_in.repository import ClaimedWebhook


async def test_a_webhook_claimed_by_a_dead_worker_is_applied_after_its_lease(factory, db):
    shop = await factory.merchant()
    payment = await shop.created(capture_method="manual")
    async with db.session() as session:
        account = await session.get(PaymentGateway, shop.sandbox_account_id)
        assert account is not None
    sandbox = payment["gateway_transaction_id"]
    body = _authorized(
        "evt_dead_worker", payment["id"], sandbox, order_reference=payment["order_reference"]
    )
    # Stored the way the endpoint stores it, but claimed in the same transaction by a worker
    # that then dies: nobody may touch it until the lease runs out.
    webhook = IncomingWebhook(headers={}, body=body, received_at=datetime.now(UTC))
    [event] = webhooks.parse(webhook)
    leased_until = datetime.now(UTC) + timedelta(seconds=1)
    async with db.transaction() as session:
        row_id = await webhook_service.store(session, account, {}, body, event, datetime.now(UTC))
        await session.execute(
            update(PaymentWebhook)
            .where(PaymentWebhook.id == row_id)
            .values(locked_until=leased_until)
        )
    assert (await shop.get(payment["id"]))["status"] == "pending"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with db.session() as session:
            row = (
                await session.execute(
                    select(PaymentWebhook).where(PaymentWebhook.webhook_id == "evt_dead_worker")
                )
            ).scalar_one()
        if row.status == "processed":
            break
        await asyncio.sleep(0.05)
    assert row.status == "processed"
    assert row.processed_at >= leased_until
    assert (await shop.get(payment["id"]))["status"] == "authorized"


def _authorized(
    event_id: str, payment_id: str, sandbox_id: str, *, order_reference: str | None = None
) -> bytes:
    """A sandbox `payment.authorized` notification body for the payment."""
    data = {
        "id": sandbox_id,
        "payment_reference": payment_id,
        "status": "authorized",
        "amount": "150000",
        "currency": "VND",
        "captured_amount": "0",
        "refunded_amount": "0",
    }
    if order_reference is not None:
        data["order_reference"] = order_reference
    event = {"id": event_id, "type": "payment.authorized", "created": int(time.time())}
    return json.dumps({**event, "data": data}).encode()


def _stored(row_id: int, event_id: str, payment_id: str, sandbox_id: str) -> ClaimedWebhook:
    now = datetime.now(UTC)
    body = _authorized(event_id, payment_id, sandbox_id)
    return ClaimedWebhook(row_id, 7, event_id, body, now, now)


async def test_a_batch_runs_one_lane_per_payment_keeping_each_payments_order(db, http):
    """Webhooks of different payments are applied side by side; those of one payment one after
    another, in the order they were stored; one that cannot be read is alone in its lane."""
    account = PaymentGateway(id=7, code="sandbox", config={"webhook_secret": "whsec_x"})
    settings = Settings()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        _stored(1, "evt_a1", first, "sbx_a"),
        _stored(2, "evt_b1", second, "sbx_b"),
        _stored(3, "evt_a2", first, "sbx_a"),
        ClaimedWebhook(4, 7, "evt_bad", b"{not json", datetime.now(UTC), datetime.now(UTC)),
    ]
    lanes: dict[object, list[int]] = {}
    for row in rows:
        lanes.setdefault(webhook_tasks._lane(settings, http, account, row), []).append(row.id)
    assert sorted(lanes.values()) == [[1, 3], [2], [4]]
