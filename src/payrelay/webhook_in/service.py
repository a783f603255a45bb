"""The inbox: gateway webhooks are stored first, verified by their connector, deduplicated on
(account, gateway event id), then applied to the payment they concern."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payrelay.audit import service as audit_service
from payrelay.connectors.base import GatewayEvent
from payrelay.enums import PaymentStatus, WebhookStatus
from payrelay.kit.db import AsyncSession
from payrelay.kit.redact import redact
from payrelay.models import PaymentGateway
from payrelay.payment import results as payment_results
from payrelay.payment.repository import PaymentRepository
from payrelay.webhook_in.repository import WebhookRepository

PENDING_STATUSES = (WebhookStatus.RECEIVED.value, WebhookStatus.FAILED.value)
# Signatures are kept for the audit trail; credentials (an `Authorization: Apikey` header) never.
SIGNATURE_HEADERS = (
    "sandbox-signature",
    "stripe-signature",
    "paypal-transmission-sig",
    "x-signature",
    "x-sepay-signature",
    "signature",
)


@dataclass(frozen=True, slots=True)
class Processed:
    status: WebhookStatus
    payment_status: PaymentStatus | None
    gateway: str
    transaction_id: int | None = None


def _signature(headers: Mapping[str, str]) -> str | None:
    for name in SIGNATURE_HEADERS:
        if name in headers:
            return headers[name][:2000]
    return None


def _payload(body: bytes) -> dict[str, Any] | None:
    """The body as JSON for querying, when it is JSON PostgreSQL can store (the raw bytes are
    always kept)."""
    if b"\\u0000" in body:  # JSONB cannot hold NUL characters
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else {"value": parsed}


async def store_rejected(
    session: AsyncSession,
    account: PaymentGateway,
    headers: Mapping[str, str],
    body: bytes,
    reason: str,
    now: datetime,
) -> None:
    """A webhook that failed verification is kept for the audit trail and never applied."""
    await WebhookRepository(session).insert_if_new(
        {
            "gateway_account_id": account.id,
            "gateway_name": account.code,
            "webhook_id": None,
            "payload": _payload(body),
            "raw_body": body,
            "headers": redact(dict(headers)),
            "signature": _signature(headers),
            "status": WebhookStatus.REJECTED.value,
            "error": reason[:1000],
            "created_at": now,
            "updated_at": now,
        }
    )


async def store(
    session: AsyncSession,
    account: PaymentGateway,
    headers: Mapping[str, str],
    body: bytes,
    event: GatewayEvent,
    now: datetime,
) -> int | None:
    """The inbox row for this event, or None if the gateway already sent it (a duplicate).
    A new row wakes the workers when the transaction commits."""
    repository = WebhookRepository(session)
    row_id = await repository.insert_if_new(
        {
            "gateway_account_id": account.id,
            "gateway_name": account.code,
            "webhook_id": event.event_id[:255],
            "event_type": event.event_type[:100],
            "payload": _payload(body),
            "raw_body": body,
            "headers": redact(dict(headers)),
            "signature": _signature(headers),
            "status": WebhookStatus.RECEIVED.value,
            "created_at": now,
            "updated_at": now,
        }
    )
    if row_id is not None:
        await repository.notify()
    return row_id


async def process(
    session: AsyncSession, account: PaymentGateway, row_id: int, event: GatewayEvent, now: datetime
) -> Processed:
    repository = WebhookRepository(session)
    webhook = await repository.lock(row_id)
    if webhook is None or webhook.status not in PENDING_STATUSES:
        return Processed(WebhookStatus.IGNORED, None, account.code)
    transaction_id = await PaymentRepository(session).find_transaction_id(
        account.id, payment_id=event.payment_id, gateway_transaction_id=event.gateway_transaction_id
    )
    if transaction_id is None:
        await repository.update(
            row_id,
            status=WebhookStatus.IGNORED.value,
            error="no payment matches this event",
            processed_at=now,
            updated_at=now,
        )
        return Processed(WebhookStatus.IGNORED, None, account.code)
    applied = await payment_results.apply_gateway_event(session, transaction_id, event, now=now)
    status = WebhookStatus.PROCESSED if applied.changed else WebhookStatus.IGNORED
    await repository.update(
        row_id,
        payment_request_id=applied.row.request.id,
        status=status.value,
        error=None if applied.changed else "no change: duplicate or stale event",
        processed_at=now,
        updated_at=now,
    )
    await audit_service.record(
        session,
        event_type="webhook.received",
        actor="gateway",
        merchant_id=account.merchant_id,
        payment_request_id=applied.row.request.id,
        payment_transaction_id=transaction_id,
        data={
            "webhook_id": event.event_id,
            "event_type": event.event_type,
            "outcome": event.outcome.value,
            "result": status.value,
        },
        gateway_response=dict(event.raw),
    )
    return Processed(
        status,
        applied.change.after if applied.change is not None else None,
        account.code,
        transaction_id,
    )


async def awaiting_processing(
    session: AsyncSession, account_id: int, webhook_ids: list[str]
) -> bool:
    """Whether any of these gateway events is stored but not applied yet."""
    return await WebhookRepository(session).any_pending(account_id, webhook_ids)


async def mark_failed(
    session: AsyncSession, row_id: int, error: str, now: datetime, retry_base: float
) -> None:
    """Processing failed: try again later, backing off (base × 2^n, at most an hour)."""
    repository = WebhookRepository(session)
    webhook = await repository.lock(row_id)
    if webhook is None or webhook.status not in PENDING_STATUSES:
        return
    delay = min(retry_base * 2**webhook.retry_count, 3600.0)
    await repository.update(
        row_id,
        status=WebhookStatus.FAILED.value,
        retry_count=webhook.retry_count + 1,
        error=error[:1000],
        locked_until=now + timedelta(seconds=delay),
        updated_at=now,
    )
