"""Stripe webhooks: `Stripe-Signature` verified with the `stripe` package (spec 1.5), then each
event mapped to a canonical one (pure: the worker parses the stored body again).

The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 of `{t}.{raw body}` keyed with
the whole `whsec_…` secret; any `v1` may match (during a secret roll Stripe signs with both). The
package checks the signature; the age is checked here against the moment payrelay received the
webhook (300 s, like the package: only old timestamps are refused, not future ones).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe

from payrelay.connectors.base import (
    Decline,
    GatewayEvent,
    IncomingWebhook,
    PaymentOutcome,
    WebhookRejected,
)
from payrelay.connectors.stripe import transformers
from payrelay.connectors.stripe.transformers import MalformedResponse, StripeConfig

TOLERANCE = timedelta(seconds=300)
HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.expired",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.refund.updated",
    }
)


def timestamp_of(header: str) -> int:
    """`t` of a `Stripe-Signature` header (the first one, as the package reads it)."""
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name == "t":
            return int(value)
    raise ValueError("no t")


def verify(config: StripeConfig, webhook: IncomingWebhook) -> None:
    header = webhook.headers.get("stripe-signature")
    if not header:
        raise WebhookRejected("no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            webhook.body, header, config.webhook_secret, tolerance=None
        )
        signed_at = timestamp_of(header)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"Stripe-Signature: {exc.user_message or exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(f"Stripe-Signature unreadable: {exc}") from exc
    if signed_at < (webhook.received_at - TOLERANCE).timestamp():
        raise WebhookRejected(f"Stripe-Signature timestamp {signed_at} is too old")


def _body(webhook: IncomingWebhook) -> dict[str, Any]:
    try:
        body = json.loads(webhook.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("the Stripe webhook is not JSON") from exc
    if not isinstance(body, dict):
        raise WebhookRejected("the Stripe webhook is not a JSON object")
    return body


def parse(webhook: IncomingWebhook) -> list[GatewayEvent]:
    try:
        event = event_of(_body(webhook))
    except (MalformedResponse, ValueError, OverflowError, OSError) as exc:
        # OverflowError, OSError: a `created` no calendar holds
        raise WebhookRejected(f"malformed Stripe event: {exc}") from exc
    return [] if event is None else [event]


def event_of(body: Mapping[str, Any]) -> GatewayEvent | None:
    """One Stripe event as a canonical event; None for a type payrelay does not act on.
    Deterministic: the worker parses the stored body again and must get the same event."""
    if body.get("object") != "event":
        raise MalformedResponse("not a Stripe event")
    event_id, event_type = transformers.text_of(body, "id"), transformers.text_of(body, "type")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if event_id is None or event_type is None or not isinstance(obj, Mapping):
        raise MalformedResponse("Stripe event without id, type or data.object")
    occurred_at = datetime.fromtimestamp(transformers.integer_of(body, "created"), UTC)
    if event_type not in HANDLED_EVENTS:
        return None
    outcome, amount, decline = _event_outcome(event_type, obj)
    session = obj.get("object") == "checkout.session"
    return GatewayEvent(
        event_id=event_id,
        event_type=event_type,
        outcome=outcome,
        gateway_status=(transformers.text_of(obj, "status") or event_type)[:50],
        occurred_at=occurred_at,
        payment_id=transformers.payment_id_of(obj),
        gateway_transaction_id=transformers.text_of(obj, "id") if session else None,
        amount=amount,
        decline=decline,
        raw=transformers.plain(body),
    )


def _event_outcome(
    event_type: str, obj: Mapping[str, Any]
) -> tuple[PaymentOutcome, Decimal | None, Decline | None]:
    """Which events move money, and by how much. Each one carries the whole object it is about,
    so no event needs a call to Stripe; those that cannot tell enough are PENDING (they change
    nothing) and the next event or the janitor's status query decides."""
    status = transformers.text_of(obj, "status")
    if event_type == "checkout.session.completed":
        if obj.get("payment_status") == "paid":  # automatic capture: the money is taken
            return PaymentOutcome.CAPTURED, transformers.amount_of(obj, "amount_total"), None
        return PaymentOutcome.PENDING, None, None  # an authorization: its own event says so
    if event_type == "checkout.session.expired":
        if transformers.text_of(obj, "payment_intent") is None:
            return PaymentOutcome.EXPIRED, None, None  # nobody tried to pay
        decline = Decline(
            code="payment_failed",
            message="the customer's payment attempts failed and the Checkout Session expired",
            gateway_code="expired",
        )
        return PaymentOutcome.DECLINED, None, decline
    if event_type == "payment_intent.amount_capturable_updated":
        if status == "requires_capture" and transformers.integer_of(obj, "amount_capturable") > 0:
            return PaymentOutcome.AUTHORIZED, transformers.amount_of(obj, "amount_capturable"), None
        return PaymentOutcome.PENDING, None, None
    if event_type == "payment_intent.succeeded" and status == "succeeded":
        return PaymentOutcome.CAPTURED, transformers.amount_of(obj, "amount_received"), None
    if event_type == "payment_intent.canceled" and status == "canceled":
        # Voids an authorization (ours, or Stripe's after 7 days); a pending payment's intent
        # is cancelled with its expired session, which `checkout.session.expired` reports.
        return PaymentOutcome.VOIDED, None, None
    # payment_intent.payment_failed: the customer may still pay with another card.
    # charge.refunded, charge.refund.updated: refunds are settled by our refund calls and the
    # status query, which list them by our key; payrelay has no refund fact from a webhook.
    return PaymentOutcome.PENDING, None, None
