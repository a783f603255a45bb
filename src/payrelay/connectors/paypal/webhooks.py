"""PayPal webhooks (spec 2.6): the transmission headers, the verification request, and the
events as canonical facts.

Parsing reads only the body (never the time or the network), so the worker can parse the stored
bytes again. The event's `resource` is an order, an authorization, a capture or a refund; what
it says about the payment is read the same way as PayPal's API answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payrelay.connectors.base import (
    GatewayEvent,
    IncomingWebhook,
    PaymentOutcome,
    WebhookRejected,
)
from payrelay.connectors.paypal import states
from payrelay.connectors.paypal.transformers import (
    MalformedResponse,
    dumps,
    loads,
    payment_id_of,
    read_money,
)

__all__ = ["Transmission", "dumps", "event_of", "parse", "transmission", "verification_request"]

HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}
MAX_SIGNATURE = 500  # transmission_sig and cert_url (verify-webhook-signature limits)
CAPTURE_DONE = "PAYMENT.CAPTURE.COMPLETED"
CAPTURE_DECLINED = ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED")  # alike (spec 2.6)
INFORMATION_ONLY = ("PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.REVERSED")


@dataclass(frozen=True, slots=True)
class Transmission:
    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str


def transmission(webhook: IncomingWebhook) -> Transmission:
    values: dict[str, str] = {}
    for name, header in HEADERS.items():
        value = webhook.headers.get(header, "").strip()
        if not value:
            raise WebhookRejected(f"missing {header} header")
        if len(value) > MAX_SIGNATURE:
            raise WebhookRejected(f"{header} is too long")
        values[name] = value
    return Transmission(**values)


def event_of(body: bytes) -> dict[str, Any]:
    try:
        event = loads(body)
    except MalformedResponse as exc:
        raise WebhookRejected(f"malformed PayPal webhook: {exc}") from exc
    if not isinstance(event.get("id"), str) or not isinstance(event.get("event_type"), str):
        raise WebhookRejected("PayPal webhook without id or event_type")
    return event


def verification_request(sent: Transmission, webhook_id: str, body: bytes) -> bytes:
    """The body of `POST /v1/notifications/verify-webhook-signature`. The event goes in as the
    exact bytes received: re-serialising it could change what PayPal checks (spec 2.6)."""
    head = dumps(
        {
            "auth_algo": sent.auth_algo,
            "cert_url": sent.cert_url,
            "transmission_id": sent.transmission_id,
            "transmission_sig": sent.transmission_sig,
            "transmission_time": sent.transmission_time,
            "webhook_id": webhook_id,
        }
    )
    return head[:-1] + b',"webhook_event":' + body.strip() + b"}"


# --- events --------------------------------------------------------------------------------


def parse(body: bytes) -> list[GatewayEvent]:
    event = event_of(body)
    try:
        return [_event(event)]
    except (MalformedResponse, ValueError, TypeError, KeyError) as exc:
        raise WebhookRejected(f"malformed PayPal webhook: {exc}") from exc


def _event(event: Mapping[str, Any]) -> GatewayEvent:
    event_type = str(event["event_type"])
    resource = event.get("resource")
    if not isinstance(resource, Mapping):
        raise MalformedResponse("event without a resource")
    resource_type = event.get("resource_type")
    created = event.get("create_time")
    if not isinstance(created, str):
        raise MalformedResponse("event without create_time")
    common: dict[str, Any] = {
        "event_id": str(event["id"]),
        "event_type": event_type[:100],
        "occurred_at": datetime.fromisoformat(created),
        "raw": dict(event),
    }
    if event_type == "CHECKOUT.PAYMENT-APPROVAL.REVERSED":
        order_id = resource.get("order_id") or resource.get("id")
        return GatewayEvent(
            outcome=PaymentOutcome.DECLINED,
            gateway_status="APPROVAL_REVERSED",
            payment_id=_custom_id(resource),
            gateway_transaction_id=order_id if isinstance(order_id, str) else None,
            decline=states.decline("approval_reversed", "PayPal reversed the buyer's approval"),
            **common,
        )
    if resource_type == "checkout-order" or event_type.startswith("CHECKOUT.ORDER."):
        return _order_event(resource, common)
    if resource_type == "authorization" or event_type.startswith("PAYMENT.AUTHORIZATION."):
        return _authorization_event(resource, common)
    if event_type in INFORMATION_ONLY or resource_type == "refund":
        # A refund of a capture (ours, or made at PayPal): payrelay records refunds from its
        # own calls; this fact changes no payment.
        return _information(resource, common, "REFUNDED")
    if resource_type == "capture" or event_type.startswith("PAYMENT.CAPTURE."):
        return _capture_event(event_type, resource, common)
    return _information(resource, common, event_type)


def _order_event(resource: Mapping[str, Any], common: dict[str, Any]) -> GatewayEvent:
    result = states.order_result(resource)
    payments = states.payments_of(resource)
    return GatewayEvent(
        outcome=result.outcome,
        gateway_status=result.gateway_status,
        payment_id=payment_id_of(payments.custom_id),
        gateway_transaction_id=result.gateway_transaction_id,
        amount=result.amount,
        decline=result.decline,
        **common,
    )


def _authorization_event(resource: Mapping[str, Any], common: dict[str, Any]) -> GatewayEvent:
    found = states.item(resource, states.AUTHORIZATION_STATUSES, "authorization")
    outcome = {
        "CREATED": PaymentOutcome.AUTHORIZED,
        "PARTIALLY_CAPTURED": PaymentOutcome.AUTHORIZED,
        "CAPTURED": PaymentOutcome.AUTHORIZED,
        "VOIDED": PaymentOutcome.VOIDED,
        "EXPIRED": PaymentOutcome.VOIDED,
        "DENIED": PaymentOutcome.DECLINED,
    }.get(found.status, PaymentOutcome.PENDING)
    return GatewayEvent(
        outcome=outcome,
        gateway_status=found.status,
        payment_id=_custom_id(resource),
        gateway_transaction_id=_order_id(resource),
        amount=found.amount,
        decline=_decline(found, "authorization_denied")
        if outcome is PaymentOutcome.DECLINED
        else None,
        **common,
    )


def _capture_event(
    event_type: str, resource: Mapping[str, Any], common: dict[str, Any]
) -> GatewayEvent:
    status = resource.get("status")
    if event_type in CAPTURE_DECLINED or status in ("DECLINED", "DENIED", "FAILED"):
        outcome = PaymentOutcome.DECLINED
    elif event_type == CAPTURE_DONE or status in states.CAPTURE_DONE:
        outcome = PaymentOutcome.CAPTURED
    else:
        outcome = PaymentOutcome.PENDING
    amount = read_money(resource.get("amount"))
    reason = resource.get("status_details")
    reason = reason.get("reason") if isinstance(reason, Mapping) else None
    return GatewayEvent(
        outcome=outcome,
        gateway_status=str(status or event_type.rsplit(".", 1)[-1])[:50],
        payment_id=_custom_id(resource),
        gateway_transaction_id=_order_id(resource),
        amount=amount,
        decline=states.decline(
            str(reason or "capture_declined").lower(), "PayPal declined the payment", reason
        )
        if outcome is PaymentOutcome.DECLINED
        else None,
        **common,
    )


def _information(resource: Mapping[str, Any], common: dict[str, Any], status: str) -> GatewayEvent:
    """An event that moves no money here: stored for the record, applied as nothing new."""
    return GatewayEvent(
        outcome=PaymentOutcome.PENDING,
        gateway_status=str(resource.get("status") or status)[:50],
        payment_id=_custom_id(resource),
        gateway_transaction_id=_order_id(resource),
        **common,
    )


def _decline(found: states.Item, default: str) -> Any:
    return states.decline(
        (found.reason or default).lower(), "PayPal declined the payment", found.reason
    )


def _custom_id(resource: Mapping[str, Any]) -> Any:
    return payment_id_of(resource.get("custom_id"))


def _order_id(resource: Mapping[str, Any]) -> str | None:
    """`supplementary_data.related_ids.order_id` of an authorization or capture."""
    data = resource.get("supplementary_data")
    related = data.get("related_ids") if isinstance(data, Mapping) else None
    order_id = related.get("order_id") if isinstance(related, Mapping) else None
    return order_id if isinstance(order_id, str) and order_id else None
