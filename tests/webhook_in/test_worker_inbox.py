"""The inbox is applied by the worker: a row claimed by a worker that died is taken over."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from payrelay.connectors.base import IncomingWebhook
from payrelay.connectors.sandbox import webhooks
from payrelay.models import PaymentGateway, PaymentWebhook
from payrelay.webhook_in import service as webhook_service


async def test_a_webhook_claimed_by_a_dead_worker_is_applied_after_its_lease(factory, db):
    shop = await factory.merchant()
    payment = await shop.created(capture_method="manual")
    async with db.session() as session:
        account = await session.get(PaymentGateway, shop.sandbox_account_id)
        assert account is not None
    sandbox = payment["gateway_transaction_id"]
    body = json.dumps(
        {
            "id": "evt_dead_worker",
            "type": "payment.authorized",
            "created": int(time.time()),
            "data": {
                "id": sandbox,
                "payment_reference": payment["id"],
                "order_reference": payment["order_reference"],
                "status": "authorized",
                "amount": "150000",
                "currency": "VND",
                "captured_amount": "0",
                "refunded_amount": "0",
            },
        }
    ).encode()
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
