"""The Stripe emulator on its own, through the official `stripe` package and raw HTTP: it checks
keys, parameters and states the way Stripe does, answers with Stripe's error shapes, keeps
Idempotency-Keys, and signs the webhooks it sends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from payrelay.connectors.stripe import emulator as emulator_app
from payrelay.connectors.stripe import emulator_control
from payrelay.connectors.stripe.emulator_state import Options
from payrelay.connectors.stripe.transport import SharedHttpxClient
from tests.callback.receiver import Receiver, Reply
from tests.connectors.stripe.helpers import DECLINED, VISA, Emulator
from tests.emulators import RunningEmulator

LINE = {
    "quantity": 1,
    "price_data": {"currency": "usd", "unit_amount": 1500, "product_data": {"name": "Tea"}},
}


@pytest.fixture(scope="module")
def running():
    with RunningEmulator("stripe") as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def key(running) -> str:
    return await Emulator(running.url).new_key()


def client_for(url: str, key: str, http: httpx.AsyncClient) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": url},
        http_client=SharedHttpxClient(http),
        max_network_retries=0,
    )


async def paid_intent(
    emulator: Emulator, client: stripe.StripeClient, manual: bool = True, card: str = VISA
) -> stripe.PaymentIntent:
    session = await client.v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "line_items": [LINE],
            "payment_intent_data": {"capture_method": "manual" if manual else "automatic"},
        }
    )
    await emulator.pay(session.id, card)
    found = await client.v1.checkout.sessions.retrieve_async(
        session.id, {"expand": ["payment_intent"]}
    )
    assert isinstance(found.payment_intent, stripe.PaymentIntent)
    return found.payment_intent


# --- keys --------------------------------------------------------------------------------------


async def test_keys_are_checked_like_stripe_does(running, key):
    emulator = Emulator(running.url)
    none = await emulator.call("GET", "/v1/refunds")
    wrong = await emulator.api("GET", "/v1/refunds", "sk_test_4eC39HqLyjWDarjtT1zdp7dc")
    basic = await emulator.call("GET", "/v1/refunds", auth=(key, ""))
    bearer = await emulator.api("GET", "/v1/refunds", key)

    assert none.status_code == 401
    assert none.json()["error"]["type"] == "invalid_request_error"
    assert none.json()["error"]["message"].startswith("You did not provide an API key.")
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {
            "message": "Invalid API Key provided: sk_test_********************p7dc",
            "type": "invalid_request_error",
        }
    }
    assert (basic.status_code, bearer.status_code) == (200, 200)
    assert bearer.json() == {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"}
    assert bearer.headers["request-id"].startswith("req_")


async def test_the_package_sees_stripe_errors(running, key, http):
    with pytest.raises(stripe.AuthenticationError):
        await client_for(running.url, "sk_test_nobody", http).v1.refunds.list_async()
    client = client_for(running.url, key, http)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_intents.retrieve_async("pi_nothing")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert missing.value.user_message == "No such payment_intent: 'pi_nothing'"


async def test_unknown_urls_and_parameters(running, key):
    emulator = Emulator(running.url)
    unknown = await emulator.api("POST", "/v1/charges/ch_1/dispute", key)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].startswith("Unrecognized request URL (POST: ")
    extra = await emulator.api(
        "POST", "/v1/checkout/sessions", key, {"mode": "payment", "colour": "red"}
    )
    assert extra.status_code == 400
    assert extra.json()["error"]["code"] == "parameter_unknown"
    assert extra.json()["error"]["param"] == "colour"
    missing = await emulator.api("POST", "/v1/checkout/sessions", key, {})
    assert (missing.json()["error"]["code"], missing.json()["error"]["param"]) == (
        "parameter_missing",
        "mode",
    )


@pytest.mark.parametrize(
    ("currency", "amount", "code"),
    [
        ("usd", 49, "amount_too_small"),
        ("usd", 100_000_000, "amount_too_large"),
        ("kwd", 12345, "invalid_amount"),
        ("xyz", 100, "parameter_invalid"),
    ],
)
async def test_amount_rules(running, key, http, currency, amount, code):
    client = client_for(running.url, key, http)
    price = {"currency": currency, "unit_amount": amount, "product_data": {"name": "x"}}
    line = {"quantity": 1, "price_data": price}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.checkout.sessions.create_async({"mode": "payment", "line_items": [line]})
    assert refused.value.code == code


# --- idempotency -------------------------------------------------------------------------------


async def test_a_repeated_key_replays_the_first_answer(running, key, http):
    client = client_for(running.url, key, http)
    params = {"mode": "payment", "line_items": [LINE]}
    first = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "k-1"})
    again = await Emulator(running.url).api(
        "POST",
        "/v1/checkout/sessions",
        key,
        {
            "mode": "payment",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "1500",
            "line_items[0][price_data][product_data][name]": "Tea",
        },
        **{"Idempotency-Key": "k-1"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.id
    assert again.headers["idempotent-replayed"] == "true"

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        await client.v1.checkout.sessions.create_async(
            {**params, "customer_email": "a@example.com"},
            {"idempotency_key": "k-1"},
        )
    assert mismatch.value.http_status == 400
    other = client_for(running.url, await Emulator(running.url).new_key(), http)
    elsewhere = await other.v1.checkout.sessions.create_async(params, {"idempotency_key": "k-1"})
    assert elsewhere.id != first.id  # keys belong to one account


async def test_a_key_in_flight_is_409_and_failed_validation_is_not_kept(running, key, http):
    emulator = Emulator(running.url)
    session_form = {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1500",
        "line_items[0][price_data][product_data][name]": "Tea",
    }
    invalid = await emulator.api(
        "POST", "/v1/checkout/sessions", key, {"mode": "payment"}, **{"Idempotency-Key": "k-2"}
    )
    assert invalid.status_code == 400
    await emulator.fault("create_session", "slow")
    slow = asyncio.ensure_future(
        emulator.api(
            "POST", "/v1/checkout/sessions", key, session_form, **{"Idempotency-Key": "k-2"}
        )
    )
    await asyncio.sleep(0.3)
    busy = await emulator.api(
        "POST", "/v1/checkout/sessions", key, session_form, **{"Idempotency-Key": "k-2"}
    )
    try:
        with pytest.raises(stripe.APIError) as seen:  # how the package sees a 409
            await client_for(running.url, key, http).v1.checkout.sessions.create_async(
                {"mode": "payment", "line_items": [LINE]},
                {"idempotency_key": "k-2"},
            )
    finally:
        slow.cancel()
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert seen.value.http_status == 409


async def test_a_500_before_anything_ran_is_not_kept(running, key, http):
    emulator = Emulator(running.url)
    client = client_for(running.url, key, http)
    await emulator.fault("create_session", "error")
    params = {"mode": "payment", "line_items": [LINE]}
    with pytest.raises(stripe.APIError) as failed:
        await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "k-3"})
    assert failed.value.http_status == 500
    created = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "k-3"})
    assert created.status == "open"


# --- state rules -------------------------------------------------------------------------------


async def test_capture_rules(running, key, http):
    emulator, client = Emulator(running.url), client_for(running.url, key, http)
    declined = await paid_intent(emulator, client, card=DECLINED)
    with pytest.raises(stripe.InvalidRequestError) as early:
        await client.v1.payment_intents.capture_async(declined.id)
    assert early.value.code == "payment_intent_unexpected_state"
    assert early.value.json_body["error"]["payment_intent"]["status"] == "requires_payment_method"

    held = await paid_intent(emulator, client)
    assert (held.status, held.amount_capturable) == ("requires_capture", 1500)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.payment_intents.capture_async(held.id, {"amount_to_capture": 1501})
    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount_to_capture")
    captured = await client.v1.payment_intents.capture_async(held.id, {"amount_to_capture": 1000})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        "succeeded",
        1000,
        0,
    )
    with pytest.raises(stripe.InvalidRequestError) as twice:
        await client.v1.payment_intents.capture_async(held.id)
    assert twice.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as cancel:
        await client.v1.payment_intents.cancel_async(held.id)
    assert cancel.value.code == "payment_intent_unexpected_state"


async def test_cancel_rules(running, key, http):
    emulator, client = Emulator(running.url), client_for(running.url, key, http)
    held = await paid_intent(emulator, client)
    with pytest.raises(stripe.InvalidRequestError) as reason:
        await client.v1.payment_intents.cancel_async(
            held.id,
            {"cancellation_reason": "bored"},
        )
    assert reason.value.param == "cancellation_reason"
    cancelled = await client.v1.payment_intents.cancel_async(
        held.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert (cancelled.status, cancelled.amount_capturable) == ("canceled", 0)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.capture_async(held.id)


async def test_refund_rules(running, key, http):
    emulator, client = Emulator(running.url), client_for(running.url, key, http)
    held = await paid_intent(emulator, client)
    with pytest.raises(stripe.InvalidRequestError) as uncaptured:
        await client.v1.refunds.create_async({"payment_intent": held.id})
    assert uncaptured.value.code == "payment_intent_unexpected_state"

    sold = await paid_intent(emulator, client, manual=False)
    first = await client.v1.refunds.create_async({"payment_intent": sold.id, "amount": 500})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.refunds.create_async({"payment_intent": sold.id, "amount": 1001})
    assert too_much.value.code == "amount_too_large"
    rest = await client.v1.refunds.create_async({"payment_intent": sold.id})
    assert (first.amount, rest.amount, rest.status) == (500, 1000, "succeeded")
    with pytest.raises(stripe.InvalidRequestError) as done:
        await client.v1.refunds.create_async({"payment_intent": sold.id, "amount": 1})
    assert done.value.code == "charge_already_refunded"
    listed = await client.v1.refunds.list_async({"payment_intent": sold.id, "limit": 1})
    assert ([r.id for r in listed.data], listed.has_more) == ([rest.id], True)
    charge = await client.v1.charges.retrieve_async(str(sold.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (1500, True)


async def test_an_expired_session_cannot_be_paid_or_expired_again(running, key, http):
    emulator, client = Emulator(running.url), client_for(running.url, key, http)
    session = await client.v1.checkout.sessions.create_async(
        {"mode": "payment", "line_items": [LINE]}
    )
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(session.id)
    refused = await emulator.call("POST", f"/_emulator/checkout/{session.id}/pay", json={})
    assert refused.status_code == 409
    page = await emulator.call("GET", f"/c/pay/{session.id}")
    assert "This Checkout Session is expired." in page.text


async def test_the_hosted_page_shows_a_decline_and_stays_open(running, key, http):
    emulator, client = Emulator(running.url), client_for(running.url, key, http)
    session = await client.v1.checkout.sessions.create_async(
        {"mode": "payment", "line_items": [LINE], "success_url": "https://shop.example/ok"}
    )
    declined = await emulator.call("POST", f"/c/pay/{session.id}", data={"card": DECLINED})
    assert declined.status_code == 200
    assert "Your card was declined." in declined.text
    paid = await emulator.call("POST", f"/c/pay/{session.id}", data={"card": VISA})
    assert (paid.status_code, paid.headers["location"]) == (303, "https://shop.example/ok")


# --- webhooks and time -------------------------------------------------------------------------


async def test_webhooks_are_signed_filtered_and_retried(http):
    with (
        Receiver() as receiver,
        RunningEmulator("stripe", {"webhook_retry_seconds": "0.2"}) as running,
    ):
        receiver.script.append(Reply(status=500))
        emulator = Emulator(running.url)
        key = await emulator.new_key()
        made = await emulator.api(
            "POST",
            "/v1/webhook_endpoints",
            key,
            {"url": receiver.url, "enabled_events[0]": "payment_intent.succeeded"},
        )
        secret = made.json()["secret"]
        assert secret.startswith("whsec_")
        await paid_intent(emulator, client_for(running.url, key, http), manual=False)
        for _ in range(100):
            if len(receiver.received) >= 2:
                break
            await asyncio.sleep(0.05)

    first, retry = receiver.received
    assert first.body == retry.body
    event = json.loads(retry.body)
    assert event["type"] == "payment_intent.succeeded"  # the only type enabled
    for received in (first, retry):
        header = received.headers["stripe-signature"]
        assert stripe.WebhookSignature.verify_header(received.body.decode(), header, secret, 300)
    verified = stripe.Webhook.construct_event(retry.body, retry.headers["stripe-signature"], secret)
    assert verified.id == event["id"]


async def test_sessions_and_authorizations_run_out(http):
    options = {"session_ttl_seconds": "1", "authorization_ttl_seconds": "1"}
    with RunningEmulator("stripe", options) as running:
        emulator = Emulator(running.url)
        key = await emulator.new_key()
        client = client_for(running.url, key, http)
        held = await paid_intent(emulator, client)
        unpaid = await client.v1.checkout.sessions.create_async(
            {"mode": "payment", "line_items": [LINE]}
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            intent = await client.v1.payment_intents.retrieve_async(held.id)
            session = await client.v1.checkout.sessions.retrieve_async(unpaid.id)
            if intent.status == "canceled" and session.status == "expired":
                break
            await asyncio.sleep(0.1)
        types = [view["event"]["type"] for view in await emulator.events()]

    assert (intent.status, intent.cancellation_reason) == ("canceled", "automatic")
    assert session.status == "expired"
    assert {"charge.expired", "payment_intent.canceled", "checkout.session.expired"} <= set(types)


def test_every_api_operation_can_be_faulted():
    assert {name for _, _, name in emulator_app.ROUTES} == set(emulator_control.OPERATIONS)


def test_options_are_checked():
    assert Options.parse({"refund_status": "pending"}).refund_status == "pending"
    with pytest.raises(ValueError, match="unknown stripe emulator options"):
        Options.parse({"colour": "red"})
    with pytest.raises(ValueError, match="bad value"):
        Options.parse({"webhook_retries": "many"})
    with pytest.raises(ValueError, match="refund_status"):
        Options.parse({"refund_status": "maybe"})
