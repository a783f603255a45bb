"""Stripe-Signature verification and event parsing, without a server: signatures made with the
`stripe` package's own helpers, the spec's test vector, and each handled event type."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import stripe

from payrelay.connectors.base import IncomingWebhook, PaymentOutcome, WebhookRejected
from payrelay.connectors.stripe import webhooks
from payrelay.connectors.stripe.transformers import StripeConfig

SECRET = "whsec_test_secret"
CONFIG = StripeConfig(secret_key="sk_test_x", webhook_secret=SECRET)
NOW = 1_800_000_000
PAYMENT_ID = uuid.UUID("6d3f4a53-5c57-4a36-9b4b-0d0f8f0f4b8e")


def incoming(body: bytes, signature: str | None, at: int = NOW) -> IncomingWebhook:
    headers = {} if signature is None else {"stripe-signature": signature}
    return IncomingWebhook(headers, body, datetime.fromtimestamp(at, UTC))


def signed(body: bytes, secret: str = SECRET, at: int = NOW) -> IncomingWebhook:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return incoming(body, header)


def event(event_type: str, obj: dict, created: int = NOW) -> bytes:
    body = {
        "id": f"evt_{event_type.replace('.', '_')}",
        "object": "event",
        "api_version": "2026-06-24.dahlia",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(body, indent=2).encode()


def intent(status: str, **fields) -> dict:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 15000,
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": "usd",
        "metadata": {"payrelay_payment_id": str(PAYMENT_ID)},
        "status": status,
        **fields,
    }


def session(status: str, payment_status: str = "unpaid", payment_intent: str | None = None):
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 15000,
        "currency": "usd",
        "metadata": {"payrelay_payment_id": str(PAYMENT_ID)},
        "payment_intent": payment_intent,
        "payment_status": payment_status,
        "status": status,
    }


# --- verification ------------------------------------------------------------------------------


def test_the_spec_vector_verifies_at_its_own_time():
    body = (
        b'{\n  "id": "evt_test_webhook",\n  "object": "event",\n'
        b'  "data": { "object": { "id": "rdr_123", "object": "terminal.reader" } }\n}'
    )
    header = "t=1492774577,v1=d21d91b425674689e03346536b8fec6384a8721d43ebe269a1689a3ad22cba9c"
    webhooks.verify(CONFIG, incoming(body, header, at=1492774577))
    with pytest.raises(WebhookRejected, match="too old"):
        webhooks.verify(CONFIG, incoming(body, header, at=1492774577 + 301))


def test_the_compact_spec_vector():
    body = b'{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}'
    v1 = "5e4d9743a29fffddf7c29c801815b65d5d42bb9b9516857cb191da0c28b23233"
    webhooks.verify(CONFIG, incoming(body, f"t=1492774577,v1={v1}", at=1492774600))


def test_a_webhook_signed_by_the_stripe_package_is_accepted():
    webhooks.verify(CONFIG, signed(event("payment_intent.succeeded", intent("succeeded"))))


def test_age_is_measured_from_receipt_and_future_timestamps_pass():
    body = event("payment_intent.succeeded", intent("succeeded"))
    webhooks.verify(CONFIG, signed(body, at=NOW - 300))
    webhooks.verify(CONFIG, signed(body, at=NOW + 3600))  # like the package: not refused
    with pytest.raises(WebhookRejected, match="too old"):
        webhooks.verify(CONFIG, signed(body, at=NOW - 301))


def test_any_v1_may_match_during_a_secret_roll():
    body = event("payment_intent.succeeded", intent("succeeded"))
    old = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, NOW)
    new = stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_new", NOW)
    both = f"{new},{old.split(',')[1]},v0=ignored"
    webhooks.verify(CONFIG, incoming(body, both))
    rolled = StripeConfig(secret_key="sk_test_x", webhook_secret="whsec_new")
    webhooks.verify(rolled, incoming(body, both))


@pytest.mark.parametrize(
    "forgery",
    [
        "tampered",
        "wrong secret",
        "no header",
        "empty header",
        "no t",
        "bad t",
        "no v1",
        "v0 only",
        "not utf-8",
    ],
)
def test_forgeries_are_rejected(forgery):
    body = event("payment_intent.succeeded", intent("succeeded"))
    good = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, NOW)
    v1 = good.split(",")[1]
    cases = {
        "tampered": (body.replace(b"15000", b"15001"), good),
        "wrong secret": (
            body,
            stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_x", NOW),
        ),
        "no header": (body, None),
        "empty header": (body, ""),
        "no t": (body, v1),
        "bad t": (body, f"t=yesterday,{v1}"),
        "no v1": (body, f"t={NOW}"),
        "v0 only": (body, f"t={NOW},v0={v1[3:]}"),
        "not utf-8": (b"\xff" + body, good),
    }
    sent, header = cases[forgery]
    with pytest.raises(WebhookRejected):
        webhooks.verify(CONFIG, incoming(sent, header))


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "obj", "outcome", "amount"),
    [
        (
            "checkout.session.completed",
            session("complete", "paid", "pi_1"),
            PaymentOutcome.CAPTURED,
            Decimal("150.00"),
        ),
        ("checkout.session.completed", session("complete", "unpaid", "pi_1"), "pending", None),
        ("checkout.session.expired", session("expired"), PaymentOutcome.EXPIRED, None),
        (
            "checkout.session.expired",
            session("expired", payment_intent="pi_1"),
            PaymentOutcome.DECLINED,
            None,
        ),
        (
            "payment_intent.amount_capturable_updated",
            intent("requires_capture", amount_capturable=15000),
            PaymentOutcome.AUTHORIZED,
            Decimal("150.00"),
        ),
        (
            "payment_intent.succeeded",
            intent("succeeded", amount_received=8000),
            PaymentOutcome.CAPTURED,
            Decimal("80.00"),
        ),
        (
            "payment_intent.payment_failed",
            intent("requires_payment_method", last_payment_error={"code": "card_declined"}),
            "pending",  # Checkout lets the customer try another card
            None,
        ),
        ("payment_intent.canceled", intent("canceled"), PaymentOutcome.VOIDED, None),
        (
            "charge.refunded",
            {"id": "ch_1", "object": "charge", "status": "succeeded", "metadata": {}},
            "pending",
            None,
        ),
        (
            "charge.refund.updated",
            {"id": "re_1", "object": "refund", "status": "succeeded", "metadata": {}},
            "pending",
            None,
        ),
    ],
)
def test_each_handled_event(event_type, obj, outcome, amount):
    body = event(event_type, obj)
    [parsed] = webhooks.parse(incoming(body, None))
    assert parsed.event_id == f"evt_{event_type.replace('.', '_')}"
    assert parsed.event_type == event_type
    assert parsed.outcome == outcome
    assert parsed.amount == amount
    assert parsed.occurred_at == datetime.fromtimestamp(NOW, UTC)
    if obj.get("object") in ("checkout.session", "payment_intent"):
        assert parsed.payment_id == PAYMENT_ID
    if obj.get("object") == "checkout.session":
        assert parsed.gateway_transaction_id == "cs_test_1"
    assert webhooks.parse(incoming(body, None)) == [parsed]  # the worker parses it again


def test_a_zero_decimal_amount():
    body = event(
        "payment_intent.succeeded", intent("succeeded", amount_received=1500, currency="jpy")
    )
    [parsed] = webhooks.parse(incoming(body, None))
    assert parsed.amount == Decimal("1500")


def test_other_event_types_are_acknowledged_and_ignored():
    assert webhooks.parse(incoming(event("payment_intent.created", intent("x")), None)) == []


def test_an_event_of_another_integration_names_no_payment():
    [parsed] = webhooks.parse(
        incoming(event("payment_intent.succeeded", intent("succeeded", metadata={})), None)
    )
    assert parsed.payment_id is None
    assert parsed.gateway_transaction_id is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"object": "list"}',
        b'{"object": "event", "id": "evt_1", "type": "payment_intent.succeeded"}',
        event("payment_intent.succeeded", intent("succeeded", amount_received="lots")),
        event("payment_intent.succeeded", intent("succeeded"), created=10**20),
    ],
)
def test_malformed_events_are_rejected(body):
    with pytest.raises(WebhookRejected):
        webhooks.parse(incoming(body, None))
