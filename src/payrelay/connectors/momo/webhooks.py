"""MoMo IPN: verified with the 13-field signature (spec A4), parsed into one event.

The body is JSON; its `signature` covers the fields below with our own access key, which is not
in the body. Parsing reads only the body, so the worker can parse the stored bytes again.
"""

from __future__ import annotations

from typing import Any

from payrelay.connectors.base import GatewayEvent, IncomingWebhook, WebhookRejected
from payrelay.connectors.momo import signatures, transformers
from payrelay.connectors.momo.transformers import MalformedResponse, MomoConfig


def _body(webhook: IncomingWebhook) -> dict[str, Any]:
    try:
        return transformers.loads(webhook.body)
    except MalformedResponse as exc:
        raise WebhookRejected(f"malformed MoMo IPN: {exc}") from exc


def verify(config: MomoConfig, webhook: IncomingWebhook) -> None:
    body = _body(webhook)
    if body.get("partnerCode") != config.partner_code:
        raise WebhookRejected("IPN for another partnerCode")
    missing = [name for name in signatures.IPN if name != "accessKey" and name not in body]
    if missing:
        raise WebhookRejected(f"IPN without {', '.join(missing)}")
    if not signatures.is_valid(config.secret_key, config.access_key, signatures.IPN, body):
        raise WebhookRejected("IPN signature does not match")


def parse(webhook: IncomingWebhook) -> list[GatewayEvent]:
    try:
        return [transformers.ipn_event(_body(webhook))]
    except (MalformedResponse, signatures.UnsignableValue, ValueError, OverflowError) as exc:
        # OverflowError: a responseTime no calendar holds
        raise WebhookRejected(f"malformed MoMo IPN: {exc}") from exc
