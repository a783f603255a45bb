"""PayPal webhooks: events read as facts, verification by PayPal's API and by certificate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from payrelay.connectors.base import IncomingWebhook, PaymentOutcome, WebhookRejected
from payrelay.connectors.paypal import auth, certs, webhooks
from payrelay.connectors.paypal.emulator_notify import signed_string, signer
from payrelay.connectors.paypal.webhooks import Transmission
from tests.connectors.paypal.test_connector import Paypal, approved_order, completion

ORDER_ID = "5O190127TN364715T"
PAYMENT_ID = "01a20129-6f1f-7208-9581-91e4e08badc7"


def event(event_type: str, resource_type: str, resource: dict[str, Any]) -> bytes:
    body = {
        "id": "WH-2CL46544TB770421K-5VB92446WP7345818",
        "event_version": "1.0",
        "create_time": "2022-02-02T00:23:12.336Z",
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": "…",
        "resource": resource,
    }
    return json.dumps(body).encode()


def payment(status: str, value: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {
        "id": "29Y24445UY2083144",
        "status": status,
        "amount": {"value": value, "currency_code": "USD"},
        "custom_id": PAYMENT_ID,
        "supplementary_data": {"related_ids": {"order_id": ORDER_ID}},
        **extra,
    }


def order(status: str) -> dict[str, Any]:
    unit = {"amount": {"currency_code": "USD", "value": "100.00"}, "custom_id": PAYMENT_ID}
    return {"id": ORDER_ID, "status": status, "intent": "CAPTURE", "purchase_units": [unit]}


@pytest.mark.parametrize(
    ("event_type", "resource_type", "resource", "outcome"),
    [
        ("CHECKOUT.ORDER.APPROVED", "checkout-order", order("APPROVED"), PaymentOutcome.APPROVED),
        ("PAYMENT.AUTHORIZATION.CREATED", "authorization", payment("CREATED"),
         PaymentOutcome.AUTHORIZED),
        ("PAYMENT.AUTHORIZATION.VOIDED", "authorization", payment("VOIDED"), PaymentOutcome.VOIDED),
        ("PAYMENT.CAPTURE.COMPLETED", "capture", payment("COMPLETED"), PaymentOutcome.CAPTURED),
        ("PAYMENT.CAPTURE.PENDING", "capture", payment("PENDING"), PaymentOutcome.PENDING),
        ("PAYMENT.CAPTURE.DENIED", "capture", payment("DECLINED"), PaymentOutcome.DECLINED),
        ("PAYMENT.CAPTURE.DECLINED", "capture", payment("DECLINED"), PaymentOutcome.DECLINED),
        ("PAYMENT.CAPTURE.DENIED", "capture", payment("DENIED"), PaymentOutcome.DECLINED),
        ("PAYMENT.CAPTURE.REFUNDED", "refund", payment("COMPLETED", "10.00"),
         PaymentOutcome.PENDING),
        ("CHECKOUT.PAYMENT-APPROVAL.REVERSED", "checkout-order",
         {"order_id": ORDER_ID, "purchase_units": []}, PaymentOutcome.DECLINED),
        ("CUSTOMER.DISPUTE.CREATED", "dispute", {"id": "PP-D-1"}, PaymentOutcome.PENDING),
    ],
)  # fmt: skip
def test_events(event_type, resource_type, resource, outcome):
    [parsed] = webhooks.parse(event(event_type, resource_type, resource))
    assert parsed.outcome is outcome
    assert parsed.event_id == "WH-2CL46544TB770421K-5VB92446WP7345818"
    assert parsed.event_type == event_type
    assert parsed.occurred_at == datetime(2022, 2, 2, 0, 23, 12, 336000, tzinfo=UTC)
    if resource_type in ("capture", "authorization", "checkout-order") and "id" in resource:
        assert parsed.gateway_transaction_id == ORDER_ID
        assert str(parsed.payment_id) == PAYMENT_ID
    if outcome in (PaymentOutcome.CAPTURED, PaymentOutcome.AUTHORIZED, PaymentOutcome.APPROVED):
        assert parsed.amount == Decimal("100.00")
    if outcome is PaymentOutcome.DECLINED:
        assert parsed.decline is not None


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"id": "WH-1"}', json.dumps({"id": "WH-1", "event_type": "X"}).encode()],
)
def test_unreadable_events_are_rejected(body):
    with pytest.raises(WebhookRejected):
        webhooks.parse(body)


def test_the_verification_request_carries_the_event_as_received():
    raw = '{"id":"WH-1", "event_type":"X", "resource":{"note":"Tiền \\u00e9"}}'.encode()
    sent = Transmission(
        "t-1", "2016-02-18T20:01:35Z", "sig", "https://api.paypal.com/c", "SHA256withRSA"
    )
    request = webhooks.verification_request(sent, "1JE4291016473214C", raw)
    assert request.endswith(b',"webhook_event":' + raw + b"}")
    assert json.loads(request)["webhook_event"] == json.loads(raw)
    assert json.loads(request)["webhook_id"] == "1JE4291016473214C"


def test_the_signed_string_matches_the_spec_vector():
    body = b'{"id":"WH-TEST","event_type":"PAYMENT.CAPTURE.COMPLETED"}'
    sent = Transmission(
        "69cd13f0-d67a-11e5-baa3-778b53f4ae55", "2016-02-18T20:01:35Z", "", "", "SHA256withRSA"
    )
    assert certs.signed_string(sent, "1JE4291016473214C", body) == (
        b"69cd13f0-d67a-11e5-baa3-778b53f4ae55|2016-02-18T20:01:35Z|1JE4291016473214C|3391999205"
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1", True),
        ("https://api.paypal.com/v1/notifications/certs/CERT-1", True),
        ("http://api.paypal.com/v1/notifications/certs/CERT-1", False),
        ("https://api.paypal.com.evil.example/c", False),
        ("https://evilpaypal.com/c", False),
        ("https://user@api.paypal.com/c", False),
        ("https://api.paypal.com:8443/c", False),
        ("https://127.0.0.1/c", False),
    ],
)
def test_certificate_hosts(url, allowed):
    assert certs.cert_url_allowed(url) is allowed


CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-emulator"


def signed_webhook(body: bytes, webhook_id: str = "WEBHOOK1") -> IncomingWebhook:
    transmission_id, time = "69cd13f0-d67a-11e5-baa3-778b53f4ae55", "2026-11-22T00:00:00Z"
    signature = signer().sign(signed_string(transmission_id, time, webhook_id, body))
    headers = {
        "paypal-transmission-id": transmission_id,
        "paypal-transmission-time": time,
        "paypal-transmission-sig": signature,
        "paypal-cert-url": CERT_URL,
        "paypal-auth-algo": "SHA256withRSA",
    }
    return IncomingWebhook(headers=headers, body=body, received_at=datetime.now(UTC))


async def test_offline_verification_with_the_certificate(monkeypatch):
    paypal = Paypal()  # serves the certificate for any host (the client's transport)
    connector = paypal.connector(webhook_id="WEBHOOK1", webhook_verification="certificate")
    body = event("CHECKOUT.ORDER.APPROVED", "checkout-order", order("APPROVED"))
    genuine = signed_webhook(body)

    with pytest.raises(WebhookRejected, match="trusted authority"):
        await connector.verify_webhook(genuine)  # the emulator's authority is trusted nowhere
    monkeypatch.setattr(certs, "trust_anchors", lambda: (signer().authority,))
    await connector.verify_webhook(genuine)

    tampered = IncomingWebhook(genuine.headers, body.replace(b"100.00", b"1.00"), datetime.now(UTC))
    with pytest.raises(WebhookRejected, match="does not match"):
        await connector.verify_webhook(tampered)
    other = paypal.connector(webhook_id="WEBHOOK2", webhook_verification="certificate")
    with pytest.raises(WebhookRejected, match="does not match"):
        await other.verify_webhook(genuine)  # signed for another webhook
    moved = {**genuine.headers, "paypal-cert-url": "https://paypal.test/cert"}
    with pytest.raises(WebhookRejected, match=r"paypal\.com"):
        await connector.verify_webhook(IncomingWebhook(moved, body, datetime.now(UTC)))
    later = IncomingWebhook(genuine.headers, body, datetime.now(UTC) + timedelta(days=4000))
    with pytest.raises(WebhookRejected, match="not valid now"):
        await connector.verify_webhook(later)
    assert paypal.calls("verify") == []  # offline: PayPal is never asked
    await paypal.http.aclose()


async def test_api_verification_asks_paypal():
    auth.clear()
    paypal = Paypal()
    notifier = paypal.app.state.emulator.notifier
    hook = notifier.register("payrelay-emulator-client", "https://payrelay.example/w", ["*"])
    connector = paypal.connector(webhook_id=hook.id)
    order_id = await approved_order(paypal)
    await paypal.connector().complete_payment(completion(order_id))
    resource = {"id": order_id, "status": "APPROVED", "purchase_units": []}
    [sent] = notifier.publish(
        "payrelay-emulator-client", "CHECKOUT.ORDER.APPROVED", "checkout-order", resource,
        "http://paypal.test", 0.0,
    )  # fmt: skip
    headers = {name.lower(): value for name, value in sent.headers().items()}
    await connector.verify_webhook(IncomingWebhook(headers, sent.raw, datetime.now(UTC)))
    forged = sent.raw.replace(b"APPROVED", b"COMPLETED", 1)
    with pytest.raises(WebhookRejected, match="does not match"):
        await connector.verify_webhook(IncomingWebhook(headers, forged, datetime.now(UTC)))
    no_id = paypal.connector()
    with pytest.raises(WebhookRejected, match="no webhook_id"):
        await no_id.verify_webhook(IncomingWebhook(headers, sent.raw, datetime.now(UTC)))
    paypal.state.faults["verify"] = ["error"]
    with pytest.raises(WebhookRejected, match="unverifiable") as unverifiable:
        await connector.verify_webhook(IncomingWebhook(headers, sent.raw, datetime.now(UTC)))
    assert connector.reject(str(unverifiable.value)).status_code == 503  # PayPal sends it again
    assert connector.reject("bad signature").status_code == 401
    assert [c["answer"] for c in paypal.calls("verify")] == ["SUCCESS", "FAILURE"]
    await paypal.http.aclose()
    auth.clear()
