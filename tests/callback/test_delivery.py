"""Callbacks delivered over real HTTP to a receiver on loopback, verified with independent
libraries, retried on the (compressed) schedule, stopped or disabled as the answer says."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardError
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError as SvixError

from payrelay.merchant import service as merchant_service
from payrelay.models import CallbackAttempt, Merchant, PaymentCallback
from tests.callback.receiver import Receiver, Reply

TERMINAL = {"delivered", "dead"}


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def _callbacks(db, payment_id: str) -> list[PaymentCallback]:
    async with db.session() as session:
        result = await session.execute(
            select(PaymentCallback)
            .where(PaymentCallback.payment_request_id == payment_id)
            .order_by(PaymentCallback.sequence)
        )
        return list(result.scalars())


async def _settled(db, payment_id: str, count: int = 1, within: float = 15) -> list:
    """The payment's callbacks once `count` of them are delivered or dead."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        callbacks = await _callbacks(db, payment_id)
        if len(callbacks) >= count and all(c.status in TERMINAL for c in callbacks[:count]):
            return callbacks
        await asyncio.sleep(0.05)
    raise AssertionError(f"callbacks did not settle: {[c.status for c in callbacks]}")


async def _attempts(db, callback_id) -> list[CallbackAttempt]:
    async with db.session() as session:
        result = await session.execute(
            select(CallbackAttempt)
            .where(CallbackAttempt.callback_id == callback_id)
            .order_by(CallbackAttempt.attempt)
        )
        return list(result.scalars())


def spatie_valid(secret: str, body: bytes, header: str | None) -> bool:
    """spatie/laravel-webhook-client's DefaultSignatureValidator: hash_hmac('sha256', body,
    secret) compared with hash_equals against the `Signature` header."""
    if not header:
        return False
    computed = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(computed, header)


async def test_callbacks_verify_with_standard_webhooks_svix_and_spatie(factory, db, receiver):
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "delivered"
    [request] = receiver.received
    body, headers = request.body, request.headers

    payload = StandardWebhook(shop.callback_secret).verify(body, headers)
    assert payload == callback.payload
    assert payload["type"] == "payment.captured"
    assert payload["data"]["status"] == "captured"
    assert payload["data"]["id"] == payment["id"]
    SvixWebhook(shop.callback_secret).verify(body, headers)
    assert spatie_valid(shop.callback_secret, body, headers.get("signature"))
    assert headers["webhook-id"] == payload["id"]
    assert headers["content-type"] == "application/json"

    tampered = body.replace(b'"captured"', b'"refunded"', 1)
    assert tampered != body
    with pytest.raises(StandardError):
        StandardWebhook(shop.callback_secret).verify(tampered, headers)
    with pytest.raises(SvixError):
        SvixWebhook(shop.callback_secret).verify(tampered, headers)
    assert not spatie_valid(shop.callback_secret, tampered, headers.get("signature"))


async def test_two_server_errors_then_success_is_delivered_on_the_third_attempt(
    factory, db, receiver
):
    receiver.reply(Reply(500), Reply(503))
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "delivered"
    assert callback.retry_count == 3
    attempts = await _attempts(db, callback.id)
    assert [a.response_status for a in attempts] == [500, 503, 200]
    assert attempts[0].error == "HTTP 500"
    assert attempts[-1].response_excerpt == '{"message":"ok"}'
    # The same message every time: same id and the same bytes.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1


async def test_a_client_error_stops_at_once(factory, db, receiver):
    receiver.reply(Reply(400, b"bad payload"))
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "dead"
    assert callback.response_status == 400
    assert callback.response_excerpt == "bad payload"
    await asyncio.sleep(1)  # longer than the whole compressed schedule
    assert len(receiver.received) == 1


async def test_gone_disables_the_url_until_it_is_re_enabled(factory, db, receiver):
    receiver.reply(Reply(410))
    shop = await factory.merchant(callback_url=receiver.url)
    first = await shop.captured()
    [gone] = await _settled(db, first["id"])
    assert gone.status == "dead"
    async with db.session() as session:
        merchant = await session.get(Merchant, shop.id)
        assert merchant is not None
        assert merchant.callback_url_disabled_at is not None

    second = await shop.captured()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [held] = await _callbacks(db, second["id"]) or [None]
        if held is not None and held.status == "failed" and held.next_retry_at is None:
            break
        await asyncio.sleep(0.05)
    assert held.last_error.startswith("callback URL disabled")
    assert len(receiver.received) == 1  # nothing was sent to the disabled URL

    async with db.transaction() as session:
        resumed = await merchant_service.enable_callbacks(session, shop.id, datetime.now(UTC))
    assert resumed == 1
    [delivered] = await _settled(db, second["id"])
    assert delivered.status == "delivered"
    assert len(receiver.received) == 2


async def test_a_slow_receiver_times_out_and_is_retried(factory, db, receiver):
    receiver.reply(Reply(200, delay=1.6))  # the test server's callback timeout is 1 s
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "delivered"
    attempts = await _attempts(db, callback.id)
    assert len(attempts) == 2
    assert attempts[0].response_status is None
    assert attempts[0].error == "timeout after 1 s"
    assert attempts[0].duration_ms >= 900
    assert attempts[1].response_status == 200


async def test_throttling_honours_retry_after(factory, db, receiver):
    receiver.reply(Reply(429, headers={"Retry-After": "1"}))
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "delivered"
    first, second = receiver.received
    assert second.at - first.at >= 0.95  # not the schedule's 0.2 s


async def test_exhausted_retries_end_dead_with_every_attempt_recorded(factory, db, receiver):
    receiver.default = Reply(502)
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "dead"
    attempts = await _attempts(db, callback.id)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]  # the first try plus 3 retries
    assert {a.response_status for a in attempts} == {502}


async def test_unreachable_endpoint_is_retried_as_a_network_error(factory, db, receiver):
    shop = await factory.merchant(callback_url="http://127.0.0.1:9/nothing-listens")
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "dead"
    attempts = await _attempts(db, callback.id)
    assert len(attempts) == 4
    assert all(a.response_status is None and a.error for a in attempts)


async def test_rotation_sends_both_signatures_during_the_overlap(factory, db, receiver):
    shop = await factory.merchant(callback_url=receiver.url)
    old_secret = shop.callback_secret
    async with db.transaction() as session:
        rotated = await merchant_service.rotate_callback_secret(
            session, shop.id, overlap=timedelta(hours=1), now=datetime.now(UTC)
        )
        new_secret = rotated.callback_secret
    assert new_secret != old_secret
    payment = await shop.captured()
    await _settled(db, payment["id"])
    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):
        StandardWebhook(secret).verify(request.body, request.headers)
        SvixWebhook(secret).verify(request.body, request.headers)
    # spatie's single header carries the newest secret.
    assert spatie_valid(new_secret, request.body, request.headers["signature"])

    # After the overlap, only the new secret signs.
    async with db.transaction() as session:
        merchant = await session.get(Merchant, shop.id)
        assert merchant is not None
        merchant.previous_callback_secret_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    later = await shop.captured()
    await _settled(db, later["id"])
    last = receiver.received[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(StandardError):
        StandardWebhook(old_secret).verify(last.body, last.headers)
    StandardWebhook(new_secret).verify(last.body, last.headers)


async def test_the_payload_is_the_payment_object_of_the_change(factory, db, receiver):
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.authorized()
    captured = await shop.command(payment["id"], "capture")
    callbacks = await _settled(db, payment["id"], count=2)
    bodies = sorted((json.loads(r.body) for r in receiver.received), key=lambda b: b["sequence"])
    assert [b["type"] for b in bodies] == ["payment.authorized", "payment.captured"]
    assert [b["sequence"] for b in bodies] == [1, 2]
    assert bodies[1]["data"] == captured.json()
    assert [c.status for c in callbacks] == ["delivered", "delivered"]
