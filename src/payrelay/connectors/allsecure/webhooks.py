"""AllSecure callbacks (postbacks): verified like requests (spec 3.6), parsed into one event.

The signature covers `POST`, the raw body's MD5 or SHA-512 hex, the Content-Type and Date
headers as received and the request URI — the path and query of the callback URL payrelay gave
(the account's webhook URL). The Date must be within 5 minutes of receipt (replays of an old
callback change nothing anyway: events are deduplicated and stale facts ignored). Parsing reads
only the body and the receipt time, so the worker parses the stored callback to the same event.
"""

from __future__ import annotations

from datetime import timedelta

from payrelay.connectors.allsecure import signatures, transformers
from payrelay.connectors.allsecure.transformers import MalformedResponse
from payrelay.connectors.base import GatewayEvent, IncomingWebhook, WebhookRejected

TOLERANCE = timedelta(minutes=5)


def verify(shared_secret: str, callback_url: str, webhook: IncomingWebhook) -> None:
    signature = webhook.headers.get("x-signature")
    if not signature:
        raise WebhookRejected("callback without X-Signature")
    dates = [
        value for value in (webhook.headers.get("date"), webhook.headers.get("x-date")) if value
    ]
    if not dates:
        raise WebhookRejected("callback without a Date header")
    content_type = webhook.headers.get("content-type", "")
    uri = signatures.request_uri(callback_url)
    signed = next(
        (
            date
            for date in dict.fromkeys(dates)
            if signatures.is_valid(
                shared_secret, signature, "POST", webhook.body, content_type, date, uri
            )
        ),
        None,
    )
    if signed is None:
        raise WebhookRejected("callback signature does not match")
    moment = signatures.parse_http_date(signed)
    if moment is None or abs(webhook.received_at - moment) > TOLERANCE:
        raise WebhookRejected("callback Date outside the 5 minute tolerance")


def parse(webhook: IncomingWebhook) -> list[GatewayEvent]:
    try:
        body = transformers.loads(webhook.body)
        return [transformers.callback_event(body, webhook.received_at)]
    except MalformedResponse as exc:
        raise WebhookRejected(f"malformed AllSecure callback: {exc}") from exc
