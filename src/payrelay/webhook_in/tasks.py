"""The worker's inbox job: apply stored gateway webhooks to payments, once each.

A claim is a lease (`locked_until`): a worker that dies mid-way lets it expire and another
worker takes the row. Applying an event twice is harmless anyway: facts are idempotent.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from payrelay import connectors
from payrelay.config import Settings
from payrelay.connectors.base import (
    GatewayEvent,
    IncomingWebhook,
    PaymentOutcome,
    WebhookRejected,
)
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.db import Database
from payrelay.logging import get_logger
from payrelay.models import PaymentGateway
from payrelay.payment import completion
from payrelay.payment.metrics import record_status_change
from payrelay.webhook_in import metrics
from payrelay.webhook_in import service as webhook_service
from payrelay.webhook_in.repository import ClaimedWebhook, WebhookRepository

log = get_logger(__name__)

Clock = Callable[[], datetime]
LEASE = timedelta(seconds=60)


async def process_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock
) -> int:
    """Apply one batch of stored webhooks; return how many were claimed."""
    now = clock()
    async with db.transaction() as session:
        claimed = await WebhookRepository(session).claim_due(
            now, now + LEASE, settings.callback_batch_size, settings.webhook_max_attempts
        )
        accounts: dict[int, PaymentGateway] = {}
        for account_id in {row.gateway_account_id for row in claimed}:
            account = await gateway_account_service.get_account_by_id(session, account_id)
            assert account is not None
            accounts[account_id] = account
    # Different payments are applied at once (each mostly waits on the database); the events
    # of one payment keep their order.
    lanes: dict[object, list[ClaimedWebhook]] = defaultdict(list)
    for row in claimed:
        lanes[_lane(settings, http, accounts[row.gateway_account_id], row)].append(row)
    limit = asyncio.Semaphore(settings.webhook_concurrency)

    async def apply_lane(rows: list[ClaimedWebhook]) -> None:
        async with limit:
            for row in rows:
                await _apply(db, http, settings, accounts[row.gateway_account_id], row, clock)

    await asyncio.gather(*(apply_lane(rows) for rows in lanes.values()))
    return len(claimed)


def _lane(
    settings: Settings, http: httpx.AsyncClient, account: PaymentGateway, row: ClaimedWebhook
) -> object:
    """The payment a stored webhook is about; one that cannot be read goes alone (its
    failure is recorded when it is applied)."""
    try:
        event = _event(settings, http, account, row)
    except (Exception, StopIteration):
        return ("row", row.id)
    reference = event.payment_id or event.gateway_transaction_id
    return ("row", row.id) if reference is None else (account.id, reference)


def _event(
    settings: Settings, http: httpx.AsyncClient, account: PaymentGateway, row: ClaimedWebhook
) -> GatewayEvent:
    connector = connectors.build_connector(
        account.code,
        gateway_account_service.account_context(account, settings.resolved_public_url()),
        http,
    )
    stored = IncomingWebhook(headers={}, body=row.raw_body, received_at=row.created_at)
    return next(e for e in connector.parse_webhook(stored) if e.event_id == row.webhook_id)


async def _apply(
    db: Database,
    http: httpx.AsyncClient,
    settings: Settings,
    account: PaymentGateway,
    row: ClaimedWebhook,
    clock: Clock,
) -> None:
    bound = log.bind(gateway=account.code, webhook_row_id=row.id, event_id=row.webhook_id)
    try:
        event = _event(settings, http, account, row)
        async with db.transaction() as session:
            processed = await webhook_service.process(session, account, row.id, event, clock())
    except (Exception, StopIteration, WebhookRejected) as exc:
        bound.exception("webhook.processing_failed")
        metrics.record_processed(account.code, "failed")
        async with db.transaction() as session:
            await webhook_service.mark_failed(
                session, row.id, type(exc).__name__, clock(), settings.webhook_retry_seconds
            )
        return
    metrics.record_processed(account.code, processed.status.value)
    if processed.payment_status is not None:
        record_status_change(account.code, processed.payment_status)
    bound.info("webhook.processed", result=processed.status.value)
    if event.outcome is PaymentOutcome.APPROVED and processed.transaction_id is not None:
        # The customer approved: the gateway waits for us to complete the payment.
        await completion.complete(db, http, settings, processed.transaction_id)
