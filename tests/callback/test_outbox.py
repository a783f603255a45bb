"""Every merchant-visible change queues a callback in the same transaction."""

from __future__ import annotations

from sqlalchemy import select

from payrelay.models import PaymentCallback

URL = "http://127.0.0.1:9/callbacks"


async def _callbacks(db, payment_id: str) -> list[PaymentCallback]:
    async with db.session() as session:
        result = await session.execute(
            select(PaymentCallback)
            .where(PaymentCallback.payment_request_id == payment_id)
            .order_by(PaymentCallback.sequence)
        )
        return list(result.scalars())


async def test_each_change_queues_one_callback_in_order(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized()
    captured = await shop.command(payment["id"], "capture", {"amount": "100000"})
    partly = await shop.command(payment["id"], "refund", {"amount": "30000"})
    fully = await shop.command(payment["id"], "refund")
    assert (captured.status_code, partly.status_code, fully.status_code) == (200, 200, 200)

    callbacks = await _callbacks(db, payment["id"])
    assert [c.event_type for c in callbacks] == [
        "payment.authorized",
        "payment.captured",
        "payment.refunded",
        "payment.refunded",
    ]
    assert [c.sequence for c in callbacks] == [1, 2, 3, 4]
    assert {c.callback_url for c in callbacks} == {URL}
    # Each payload carries the payment as it was right after its change.
    assert [c.payload["data"]["status"] for c in callbacks] == [
        "authorized",
        "captured",
        "partially_refunded",
        "refunded",
    ]
    assert callbacks[-1].payload["data"] == fully.json()
    first = callbacks[0].payload
    assert set(first) == {"id", "type", "created_at", "sequence", "data"}
    assert first["id"] == f"msg_{callbacks[0].id.hex}"
    assert first["type"] == "payment.authorized"


async def test_decline_void_and_payment_url_override(factory, db):
    shop = await factory.merchant(callback_url=URL)
    declined = await shop.created(callback_url="https://shop.example/hooks/declined")
    await shop.checkout(declined["id"], "decline")
    [failed] = await _callbacks(db, declined["id"])
    assert (failed.event_type, failed.callback_url) == (
        "payment.failed",
        "https://shop.example/hooks/declined",
    )

    authorized = await shop.authorized()
    assert (await shop.command(authorized["id"], "void")).status_code == 200
    assert [c.event_type for c in await _callbacks(db, authorized["id"])] == [
        "payment.authorized",
        "payment.voided",
    ]


async def test_no_callback_without_a_url_and_none_for_refused_commands(factory, db):
    silent = await factory.merchant()
    payment = await silent.captured()
    assert await _callbacks(db, payment["id"]) == []

    shop = await factory.merchant(callback_url=URL)
    pending = await shop.created()
    assert await _callbacks(db, pending["id"]) == []  # pending is not a merchant-visible change
    refused = await shop.command(pending["id"], "capture")
    assert refused.status_code == 409
    assert await _callbacks(db, pending["id"]) == []
