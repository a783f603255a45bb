"""SePay webhook authentication and parsing.

Authentication is chosen per webhook in SePay's dashboard (`webhook_auth`):

- `apikey`: `Authorization: Apikey <key>`;
- `hmac`: `X-SePay-Timestamp: <unix seconds>` and
  `X-SePay-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, 5 minute
  tolerance (the signed string and header format are third-party consensus [?]);
- `none`: anyone who knows the URL can report a transfer (not for production).

Parsing depends on the body alone: the worker parses the stored body again, without headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from payrelay.connectors.base import GatewayEvent, IncomingWebhook, WebhookRejected
from payrelay.connectors.sepay import transformers
from payrelay.kit.crypto import constant_time_equals, hmac_sha256_hex

AUTH_METHODS = ("apikey", "hmac", "none")
API_KEY_SCHEME = "apikey"
TIMESTAMP_HEADER = "x-sepay-timestamp"
SIGNATURE_HEADER = "x-sepay-signature"
SIGNATURE_PREFIX = "sha256="
TOLERANCE = timedelta(minutes=5)
MALFORMED = "malformed SePay webhook"


def api_key_header(key: str) -> str:
    return f"Apikey {key}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-SePay-Signature` value for `body` sent at `timestamp`."""
    return SIGNATURE_PREFIX + hmac_sha256_hex(secret.encode(), f"{timestamp}.".encode() + body)


def verify_api_key(expected: str, webhook: IncomingWebhook) -> None:
    header = webhook.headers.get("authorization")
    if not header:
        raise WebhookRejected("missing Authorization header")
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != API_KEY_SCHEME:
        raise WebhookRejected("Authorization is not an Apikey")
    if not constant_time_equals(key.strip(), expected):
        raise WebhookRejected("wrong API key")


def verify_hmac(secret: str, webhook: IncomingWebhook) -> None:
    given = webhook.headers.get(SIGNATURE_HEADER)
    stamp = webhook.headers.get(TIMESTAMP_HEADER)
    if not given or not stamp:
        raise WebhookRejected("missing X-SePay-Signature or X-SePay-Timestamp header")
    try:
        timestamp = int(stamp.strip())
    except ValueError as exc:
        raise WebhookRejected("malformed X-SePay-Timestamp header") from exc
    # Integer seconds: a timestamp beyond datetime's range is just as stale, not an error.
    if abs(int(webhook.received_at.timestamp()) - timestamp) > TOLERANCE.total_seconds():
        raise WebhookRejected("signature timestamp outside the 5 minute tolerance")
    if not constant_time_equals(signature(secret, timestamp, webhook.body), given.strip()):
        raise WebhookRejected("no matching signature")


def parse(
    body: bytes, *, prefix: str, bank_account: str, received_at: datetime
) -> list[GatewayEvent]:
    """The one transfer a webhook reports. JSON numbers are read as `Decimal`, never floats."""
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(f"{MALFORMED}: the body is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise WebhookRejected(f"{MALFORMED}: the body is not a JSON object")
    return [event_of(payload, prefix=prefix, bank_account=bank_account, received_at=received_at)]


def event_of(
    payload: Mapping[str, Any], *, prefix: str, bank_account: str, received_at: datetime
) -> GatewayEvent:
    try:
        return transformers.transfer_event(
            payload, prefix=prefix, bank_account=bank_account, fallback_time=received_at
        )
    except transformers.MalformedTransfer as exc:
        raise WebhookRejected(f"{MALFORMED}: {exc}") from exc
