"""Sandbox webhook signatures.

`Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, 5 minute tolerance.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from payrelay.connectors.base import (
    GatewayEvent,
    IncomingWebhook,
    PaymentOutcome,
    WebhookRejected,
)
from payrelay.connectors.sandbox import transformers
from payrelay.kit.crypto import constant_time_equals, hmac_sha256_hex

SIGNATURE_HEADER = "sandbox-signature"
TOLERANCE = timedelta(minutes=5)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_sign(secret, body, timestamp)}"


def verify(secret: str, webhook: IncomingWebhook) -> None:
    header = webhook.headers.get(SIGNATURE_HEADER)
    if not header:
        raise WebhookRejected("missing Sandbox-Signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise WebhookRejected("malformed Sandbox-Signature header") from exc
    # Integer seconds: a timestamp beyond datetime's range is just as stale, not an error.
    if abs(int(webhook.received_at.timestamp()) - timestamp) > TOLERANCE.total_seconds():
        raise WebhookRejected("signature timestamp outside the 5 minute tolerance")
    expected = _sign(secret, webhook.body, timestamp)
    if not any(constant_time_equals(expected, given) for given in parts.get("v1", [])):
        raise WebhookRejected("no matching signature")


def parse(webhook: IncomingWebhook) -> list[GatewayEvent]:
    try:
        body = json.loads(webhook.body)
        data = body["data"]
        result = transformers.payment_result(data)
        return [
            GatewayEvent(
                event_id=str(body["id"]),
                event_type=str(body["type"]),
                outcome=result.outcome,
                gateway_status=result.gateway_status,
                occurred_at=datetime.fromtimestamp(int(body["created"]), tz=UTC),
                payment_id=uuid.UUID(str(data["payment_reference"])),
                gateway_transaction_id=result.gateway_transaction_id,
                amount=result.captured_amount
                if result.outcome is PaymentOutcome.CAPTURED
                else result.amount,
                decline=result.decline,
                raw=body,
            )
        ]
    except (
        ValueError,
        KeyError,
        TypeError,
        OverflowError,
        transformers.MalformedResponse,
    ) as exc:
        raise WebhookRejected(f"malformed sandbox webhook: {exc}") from exc


def _sign(secret: str, body: bytes, timestamp: int) -> str:
    return hmac_sha256_hex(secret.encode(), str(timestamp).encode() + b"." + body)
