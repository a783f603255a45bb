"""The payment jobs the worker runs on a schedule: expiry, auto-void and the janitor.

Each job reads what is due in one transaction, asks the gateway with no transaction open, and
applies the answer in another, so a crash anywhere leaves the row due for the next run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import orjson

from payrelay import connectors
from payrelay.config import Settings
from payrelay.connectors.base import (
    Connector,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    PaymentOutcome,
    PaymentResult,
    StatusQuery,
)
from payrelay.enums import OperationKind
from payrelay.exceptions import PayrelayError
from payrelay.gateway_account import service as gateway_account_service
from payrelay.gateway_account.service import account_context
from payrelay.kit.db import Database
from payrelay.logging import get_logger
from payrelay.merchant import service as merchant_service
from payrelay.payment import completion
from payrelay.payment import results as payment_results
from payrelay.payment.metrics import record_status_change
from payrelay.payment.orchestrator import PaymentOrchestrator
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.payment.schemas import VoidIn
from payrelay.payment.service import load_target
from payrelay.webhook_in import service as webhook_service

log = get_logger(__name__)

Clock = Callable[[], datetime]
BATCH = 100


def next_check(settings: Settings, checks_done: int, now: datetime) -> datetime:
    """5 minutes, 1 hour, then daily (by default)."""
    schedule = settings.janitor_schedule
    return now + timedelta(seconds=schedule[min(checks_done, len(schedule) - 1)])


def _query(row: PaymentRow, *operation_keys: str) -> StatusQuery:
    return StatusQuery(
        payment_id=row.request.id,
        order_reference=row.transaction.order_reference,
        gateway_transaction_id=row.transaction.gateway_transaction_id,
        operation_keys=operation_keys,
    )


async def _ask(connector: Connector, call: str, query: StatusQuery) -> PaymentResult | None:
    try:
        result: PaymentResult = await getattr(connector, call)(query)
    except (GatewayNotSent, GatewayOutcomeUnknown) as exc:
        log.warning("janitor.gateway_unavailable", error=str(exc))
        return None
    return result


async def _connector(
    db: Database, http: httpx.AsyncClient, settings: Settings, row: PaymentRow
) -> Connector:

    async with db.session() as session:
        account = await gateway_account_service.get_account_by_id(
            session, row.transaction.gateway_id
        )
    assert account is not None
    return connectors.build_connector(
        row.gateway, account_context(account, settings.resolved_public_url()), http
    )


async def expire_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock
) -> int:
    """Pending payments past `expires_at`: cancelled at the gateway where it can, then expired
    — unless the gateway says the customer paid meanwhile."""
    async with db.session() as session:
        due = await PaymentRepository(session).due_expiry(clock(), BATCH)
    for transaction_id, _ in due:
        async with db.session() as session:
            row = await PaymentRepository(session).get_by_transaction(transaction_id)
        assert row is not None
        connector = await _connector(db, http, settings, row)
        capabilities = connector.capabilities
        result = None
        if capabilities.cancel_unpaid or capabilities.status_query:
            call = "cancel_unpaid" if capabilities.cancel_unpaid else "query_status"
            result = await _ask(connector, call, _query(row))
            if result is None:
                continue  # the gateway did not answer: expire on a later run, never blind
            if await _queue_missed(db, row, result, clock()):
                continue  # money may have arrived: apply it first, expire on a later run
        async with db.transaction() as session:
            applied = await payment_results.expire(session, transaction_id, result, now=clock())
        if applied.change is not None:
            record_status_change(row.gateway, applied.change.after)
    return len(due)


async def _queue_missed(
    db: Database, row: PaymentRow, result: PaymentResult, now: datetime
) -> bool:
    """Store notifications the status query found and we never received; True if any was new."""
    if not result.missed_events:
        return False
    async with db.transaction() as session:
        account = await gateway_account_service.get_account_by_id(
            session, row.transaction.gateway_id
        )
        assert account is not None
        stored = [
            await webhook_service.store(
                session,
                account,
                {"x-payrelay-source": "status-query"},
                orjson.dumps(dict(event.raw)),
                event,
                now,
            )
            for event in result.missed_events
        ]
        # Already in the inbox (the real webhook came first) but not applied yet: wait too.
        waiting = await webhook_service.awaiting_processing(
            session, account.id, [event.event_id for event in result.missed_events]
        )
    return waiting or any(row_id is not None for row_id in stored)


async def auto_void_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock
) -> int:
    """Manual authorizations not captured within the gateway's window are voided."""
    async with db.session() as session:
        due = await PaymentRepository(session).due_auto_void(clock(), BATCH)
    orchestrator = PaymentOrchestrator(db, http, settings)
    for payment_id, merchant_id in due:
        async with db.session() as session:
            merchant = await merchant_service.get_merchant(session, merchant_id)
        assert merchant is not None
        try:
            await orchestrator.operate(
                merchant,
                payment_id,
                OperationKind.VOID,
                VoidIn(reason="authorization not captured in time"),
                key=None,
                actor="system",
            )
        except PayrelayError as exc:  # in flight, or the gateway failed: next run
            log.warning("auto_void.skipped", payment_id=str(payment_id), code=exc.code)
    return len(due)


async def janitor(db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock) -> int:
    """Resolve what nobody reported: unknown or stuck operations, and pending payments the
    gateway never notified about — by asking the gateway, never by sending again."""
    now = clock()
    stale_before = now - settings.janitor_after
    async with db.session() as session:
        repository = PaymentRepository(session)
        operations = await repository.unresolved_operations(now, stale_before, BATCH)
        silent = await repository.silent_pending(now, stale_before, BATCH)
    for operation_id in operations:
        await _resolve_operation(db, http, settings, operation_id, clock)
    for transaction_id in silent:
        await _check_payment(db, http, settings, transaction_id, clock)
    return len(operations) + len(silent)


async def _resolve_operation(
    db: Database,
    http: httpx.AsyncClient,
    settings: Settings,
    operation_id: uuid.UUID,
    clock: Clock,
) -> None:
    async with db.session() as session:
        target = await load_target(session, operation_id)
    connector = await _connector(db, http, settings, target.row)
    query = _query(target.row, target.operation.gateway_idempotency_key)
    result = await _ask(connector, "query_status", query)
    now = clock()
    async with db.transaction() as session:
        if result is None:
            await payment_results.reschedule(
                session, target.operation.id, next_check(settings, target.operation.attempts, now)
            )
            return
        applied = await payment_results.resolve_operation(
            session,
            target.operation.id,
            result,
            reports_operations=connector.capabilities.reports_operations,
            now=now,
            next_check_at=next_check(settings, target.operation.attempts, now),
        )
    if applied is not None and applied.change is not None:
        record_status_change(target.code, applied.change.after)


async def _check_payment(
    db: Database, http: httpx.AsyncClient, settings: Settings, transaction_id: int, clock: Clock
) -> None:
    async with db.session() as session:
        row = await PaymentRepository(session).get_by_transaction(transaction_id)
    assert row is not None
    connector = await _connector(db, http, settings, row)
    result = await _ask(connector, "query_status", _query(row))
    if result is None:
        return
    now = clock()
    if await _queue_missed(db, row, result, now):
        return  # the worker applies them through the inbox, deduplicated with real webhooks
    if result.outcome is PaymentOutcome.APPROVED and connector.capabilities.needs_completion:
        await completion.complete(db, http, settings, transaction_id)
        return
    async with db.transaction() as session:
        applied = await payment_results.apply_status(
            session,
            transaction_id,
            result,
            now=now,
            next_check_at=next_check(settings, row.transaction.status_checks, now),
        )
    if applied.change is not None:
        record_status_change(row.gateway, applied.change.after)
