"""What goes wrong with Stripe: webhooks forged, stale, duplicated or out of order; answers lost
at create, capture, void and refund; authorizations nobody captured. Money moves only on a
genuine webhook, an answer, or a status query — never by sending twice; each flow ends with the
merchant's callback delivered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import stripe as stripe_sdk

from payrelay.payment.tasks import auto_void_due
from tests import inbox
from tests.callback.receiver import Receiver
from tests.connectors.stripe.helpers import (
    delivered,
    run_janitor,
    stripe_shop,
)
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import (
    create_operation,
    error_code,
    free_port,
    operations,
    set_base_url,
    webhook_rows,
)


@pytest.fixture(scope="module")
def emulator():
    with RunningEmulator("stripe") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


async def post_webhook(
    http: httpx.AsyncClient, account_id: int, body: bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    response = await http.post(f"/webhooks/stripe/{account_id}", content=body, headers=headers)
    if response.status_code == 200:
        await inbox.drained(account_id)
    return response


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `stripe` package's own test helper."""
    return stripe_sdk.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), secret, timestamp=timestamp
    )


async def test_webhooks_signed_with_the_stripe_package_are_accepted_and_forgeries_rejected(
    factory, db, http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created()
    paid = await stripe.pay(payment, notify=False)  # Stripe's own deliveries are lost
    [succeeded] = [
        e["event"] for e in paid["events"] if e["event"]["type"] == "payment_intent.succeeded"
    ]
    body = json.dumps(succeeded).encode()
    now = int(time.time())

    tampered = body.replace(b'"amount_received": 15000', b'"amount_received": 15001')
    assert tampered != body
    attempts = [
        (tampered, sign(body, stripe.webhook_secret)),
        (body, sign(body, "whsec_someone_else")),
        (body, sign(body, stripe.webhook_secret, timestamp=now - 301)),  # stale: 300 s tolerance
        (body, None),
        (body, "t=abc,v1=00"),
        (body, f"t={now}"),  # no v1
        (b"\xff\xfe", sign(b"x", stripe.webhook_secret)),
    ]
    answers = [await post_webhook(http, stripe.account_id, b, s) for b, s in attempts]

    assert [answer.status_code for answer in answers] == [400] * len(attempts)
    assert [row["status"] for row in await webhook_rows(db, stripe.account_id)] == (
        ["rejected"] * len(attempts)
    )
    assert (await stripe.shop.get(payment["id"]))["status"] == "pending"

    genuine = await post_webhook(
        http, stripe.account_id, body, sign(body, stripe.webhook_secret, timestamp=now - 290)
    )

    assert genuine.status_code == 200
    assert genuine.json() == {"received": True}
    assert (await stripe.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_rolled_secret_signs_twice_and_either_verifies(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    rolled = await stripe.emulator.control(
        "POST", f"webhook_endpoints/{stripe.endpoint_id}/roll", {"keep_old_seconds": 3600}
    )
    payment = await stripe.created()  # payrelay still has the old secret

    paid = await stripe.pay(payment)

    [view] = [e for e in paid["events"] if e["event"]["type"] == "payment_intent.succeeded"]
    [attempt] = view["deliveries"][0]["attempts"]
    assert attempt["status"] == 200
    assert attempt["signature"].count("v1=") == 2
    body = view["raw"]
    for secret in (rolled["secret"], stripe.webhook_secret):
        assert stripe_sdk.WebhookSignature.verify_header(body, attempt["signature"], secret, 300)
    assert (await stripe.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_duplicated_webhook_is_applied_once(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created()
    paid = await stripe.pay(payment)
    [succeeded] = [
        e["event"] for e in paid["events"] if e["event"]["type"] == "payment_intent.succeeded"
    ]

    again = await stripe.emulator.deliver(succeeded["id"])
    await inbox.drained(stripe.account_id)

    assert [a["status"] for a in again["deliveries"][0]["attempts"]] == [200, 200]
    stored = [
        r for r in await webhook_rows(db, stripe.account_id) if r["webhook_id"] == succeeded["id"]
    ]
    assert [row["status"] for row in stored] == ["processed"]
    await delivered(db, payment["id"], ["payment.captured"])


async def test_webhooks_out_of_order_and_late(factory, db, emulator, receiver):
    """Stripe does not order its deliveries: the authorization arrives after the session, the
    capture's events twice, and the old authorization again at the end. Each fact counts once."""
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    paid = await stripe.pay(payment, notify=False)
    events = {e["event"]["type"]: e["event"] for e in paid["events"]}

    await stripe.emulator.deliver(events["checkout.session.completed"]["id"])
    await inbox.drained(stripe.account_id)
    assert (await stripe.shop.get(payment["id"]))["status"] == "pending"  # not enough alone
    await stripe.emulator.deliver(events["payment_intent.amount_capturable_updated"]["id"])
    await inbox.drained(stripe.account_id)
    assert (await stripe.shop.get(payment["id"]))["status"] == "authorized"

    await stripe.emulator.pause()
    try:
        captured = await stripe.shop.command(payment["id"], "capture", {"amount": "100.00"})
    finally:
        await stripe.emulator.pause(False)
    assert captured.status_code == 200, captured.text
    [capture_event] = [
        view["event"]
        for view in await stripe.emulator.events("payment_intent.succeeded")
        if view["event"]["data"]["object"]["id"] == paid["payment_intent"]["id"]
    ]
    for event_id in (
        capture_event["id"],
        capture_event["id"],
        events["payment_intent.amount_capturable_updated"]["id"],
    ):
        await stripe.emulator.deliver(event_id)
        await inbox.drained(stripe.account_id)

    after = await stripe.shop.get(payment["id"])
    assert (after["status"], after["captured_amount"]) == ("captured", "100.00")
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_capture_whose_answer_was_lost_is_settled_by_the_janitor_without_a_second_capture(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    await stripe.pay(payment)
    await stripe.emulator.pause()  # its webhook is lost too
    await stripe.emulator.fault("capture", "hang")
    try:
        lost = await stripe.shop.command(payment["id"], "capture", {"amount": "120.00"})
    finally:
        await stripe.emulator.pause(False)

    assert lost.status_code == 504, lost.text
    assert error_code(lost) == "gateway_outcome_unknown"
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "unknown"
    assert (await stripe.shop.get(payment["id"]))["status"] == "authorized"

    await run_janitor(db, gateway_http, settings, stripe.shop.id)

    captured = await stripe.shop.get(payment["id"])
    assert (captured["status"], captured["captured_amount"]) == ("captured", "120.00")
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "succeeded"
    assert len(await stripe.calls("capture")) == 1  # read, never sent again
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_capture_that_never_reached_stripe_is_declined_by_the_janitor(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    await stripe.pay(payment)
    await stripe.emulator.fault("capture", "error")  # 500 before anything ran

    lost = await stripe.shop.command(payment["id"], "capture")
    assert lost.status_code == 504, lost.text

    await run_janitor(db, gateway_http, settings, stripe.shop.id)

    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "failed"  # the PaymentIntent names no capture of ours
    assert (await stripe.shop.get(payment["id"]))["status"] == "authorized"
    again = await stripe.shop.command(payment["id"], "capture")
    assert again.status_code == 200, again.text
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_lost_void_and_a_lost_refund_are_settled_by_the_janitor(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    held = await stripe.created(capture_method="manual")
    sold = await stripe.created()
    await stripe.pay(held)
    await stripe.pay(sold)
    await stripe.emulator.pause()
    await stripe.emulator.fault("cancel", "hang")
    await stripe.emulator.fault("create_refund", "hang")
    try:
        void = await stripe.shop.command(held["id"], "void")
        refund = await stripe.shop.command(sold["id"], "refund", {"amount": "50.00"})
    finally:
        await stripe.emulator.pause(False)
    assert (void.status_code, refund.status_code) == (504, 504)

    await run_janitor(db, gateway_http, settings, stripe.shop.id)

    assert (await stripe.shop.get(held["id"]))["status"] == "voided"
    refunded = await stripe.shop.get(sold["id"])
    assert (refunded["status"], refunded["refunded_amount"]) == ("partially_refunded", "50.00")
    assert len(await stripe.calls("cancel")) == 1
    assert len(await stripe.calls("create_refund")) == 1
    await delivered(db, held["id"], ["payment.authorized", "payment.voided"])
    await delivered(db, sold["id"], ["payment.captured", "payment.refunded"])


async def test_a_pending_refund_is_settled_later(factory, db, settings, gateway_http, receiver):
    with RunningEmulator("stripe", {"refund_status": "pending"}) as emulator:
        stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
        payment = await stripe.created()
        await stripe.pay(payment)

        pending = await stripe.shop.command(payment["id"], "refund", {"amount": "20.00"})

        assert pending.status_code == 202, pending.text
        assert pending.json()["status"] == "captured"
        [refund_call] = await stripe.calls("create_refund")
        await stripe.emulator.control(
            "POST", f"refunds/{refund_call['answer']['id']}/settle", {"status": "succeeded"}
        )
        await inbox.drained(stripe.account_id)
        await run_janitor(db, gateway_http, settings, stripe.shop.id)

    refunded = await stripe.shop.get(payment["id"])
    assert (refunded["status"], refunded["refunded_amount"]) == ("partially_refunded", "20.00")
    await delivered(db, payment["id"], ["payment.captured", "payment.refunded"])


async def test_an_authorization_nobody_captured_is_voided_after_seven_days(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    await stripe.pay(payment)

    def later(days: float):
        moment = datetime.now(UTC) + timedelta(days=days)
        return lambda: moment

    assert await auto_void_due(db, gateway_http, settings, later(6)) == 0
    await auto_void_due(db, gateway_http, settings, later(7))

    voided = await stripe.shop.get(payment["id"])
    assert voided["status"] == "voided"
    assert (await stripe.intent(payment))["status"] == "canceled"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_an_authorization_stripe_cancelled_first_is_voided_without_error(
    factory, db, settings, gateway_http, emulator, receiver
):
    """Stripe's own expiry came first and its webhook was lost: the auto-void finds the
    PaymentIntent cancelled already, which is what a void wanted."""
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    paid = await stripe.pay(payment)
    await stripe.emulator.control(
        "POST",
        f"payment_intents/{paid['payment_intent']['id']}/expire_authorization",
        {"notify": False},
    )
    moment = datetime.now(UTC) + timedelta(days=7, minutes=1)

    await auto_void_due(db, gateway_http, settings, lambda: moment)

    assert (await stripe.shop.get(payment["id"]))["status"] == "voided"
    [cancel] = await stripe.calls("cancel")
    assert cancel["status"] == 400
    assert cancel["answer"]["error"]["code"] == "payment_intent_unexpected_state"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_stripe_expiring_an_authorization_voids_the_payment(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    paid = await stripe.pay(payment)

    await stripe.emulator.control(
        "POST", f"payment_intents/{paid['payment_intent']['id']}/expire_authorization"
    )
    await inbox.drained(stripe.account_id)

    assert (await stripe.shop.get(payment["id"]))["status"] == "voided"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_stripe_unreachable_at_create_and_never_asked_again_fails_the_payment(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    await set_base_url(db, stripe.account_id, f"http://127.0.0.1:{free_port()}")
    failed = await stripe.create()
    assert failed.status_code == 502, failed.text
    assert error_code(failed) == "gateway_unavailable"
    payment_id = failed.json()["error"]["details"]["payment_id"]
    await set_base_url(db, stripe.account_id, emulator.url)

    await run_janitor(db, gateway_http, settings, stripe.shop.id)

    payment = await stripe.shop.get(payment_id)
    assert payment["status"] == "failed"  # Stripe has no session for it: nothing was charged
    assert payment["error"]["code"] == "gateway_unavailable"
    await delivered(db, payment_id, ["payment.failed"])


async def test_a_lost_create_answer_is_found_by_the_janitor(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    await stripe.emulator.fault("create_session", "hang")

    unknown = await stripe.create()

    assert unknown.status_code == 504, unknown.text
    payment_id = unknown.json()["error"]["details"]["payment_id"]
    assert (await create_operation(db, payment_id))["status"] == "unknown"
    for _ in range(500):  # the emulator records the call once it stops holding it
        if await stripe.calls("create_session"):
            break
        await asyncio.sleep(0.02)
    [created] = await stripe.calls("create_session")
    session_id = created["answer"]["id"]

    await run_janitor(db, gateway_http, settings, stripe.shop.id)

    found = await stripe.shop.get(payment_id)
    assert found["status"] == "pending"
    assert found["gateway_transaction_id"] == session_id
    assert found["next_action"] == {"type": "redirect", "url": created["answer"]["url"]}
    assert (await create_operation(db, payment_id))["status"] == "succeeded"
    await stripe.pay(found)
    assert (await stripe.shop.get(payment_id))["status"] == "captured"
    await delivered(db, payment_id, ["payment.captured"])


async def test_a_retried_create_is_replayed_by_stripe(factory, db, emulator, receiver):
    """The merchant retries a create whose answer was lost: the same Idempotency-Key reaches
    Stripe, which answers with the same session (one session, one payment)."""
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    await stripe.emulator.fault("create_session", "hang")
    key = stripe.shop.new_key()
    body = {"gateway": "stripe", "currency": "USD", "amount": "9.99", "order_id": "order-lost"}
    lost = await stripe.shop.create(key=key, **body)
    assert lost.status_code == 504, lost.text
    for _ in range(500):
        if await stripe.calls("create_session"):
            break
        await asyncio.sleep(0.02)

    retried = await stripe.shop.create(key=key, **body)

    assert retried.status_code == 201, retried.text
    first, second = await stripe.calls("create_session")
    assert second["idempotency_key"] == first["idempotency_key"]
    assert second["headers"]["Idempotent-Replayed"] == "true"
    assert retried.json()["gateway_transaction_id"] == first["answer"]["id"]
    await stripe.pay(retried.json())
    await delivered(db, retried.json()["id"], ["payment.captured"])


async def test_an_authorization_whose_webhooks_were_lost_is_found_by_the_janitor(
    factory, db, settings, gateway_http, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    await stripe.pay(payment, notify=False)  # authorized; every webhook lost
    await run_janitor(db, gateway_http, settings, stripe.shop.id)
    assert (await stripe.shop.get(payment["id"]))["status"] == "authorized"
    await delivered(db, payment["id"], ["payment.authorized"])
