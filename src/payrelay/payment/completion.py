"""Completing a payment the customer approved at the gateway (PayPal captures or authorizes an
approved order). Triggered by the gateway's approval webhook, by the customer coming back to
payrelay's return URL, or by the janitor — whichever comes first; the others find it done.

Same three steps as every command: record the operation, call the gateway with no transaction
open (with a key derived from the operation), apply the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from payrelay import connectors
from payrelay.config import Settings
from payrelay.connectors.base import (
    CompletePayment,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    PaymentResult,
)
from payrelay.enums import CaptureMethod, OperationKind, OperationStatus, PaymentStatus
from payrelay.gateway_account.service import account_context
from payrelay.kit.db import Database
from payrelay.logging import get_logger
from payrelay.payment import results as payment_results
from payrelay.payment import service as payment_service
from payrelay.payment.metrics import record_status_change
from payrelay.payment.service import GatewayTarget

log = get_logger(__name__)

IN_FLIGHT = timedelta(seconds=60)  # another trigger is completing it right now: leave it be
FIRST_CHECK_DELAY = timedelta(minutes=5)


async def complete(
    db: Database, http: httpx.AsyncClient, settings: Settings, transaction_id: int
) -> PaymentStatus | None:
    """Complete the payment if it is still pending and its gateway needs it; its status after."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        target = await payment_service.plan_completion(
            session, transaction_id, in_flight_since=now - IN_FLIGHT, now=now
        )
    if target is None:
        return None
    result = await _call(http, settings, target)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        if isinstance(result, PaymentResult):
            applied = await payment_results.apply_completion_result(
                session, target.operation.id, result, now=now
            )
        else:
            await payment_results.mark_unresolved(
                session,
                target.operation.id,
                result[0],
                result[1],
                attempted=True,
                next_check_at=now + FIRST_CHECK_DELAY,
                now=now,
            )
            return PaymentStatus.PENDING
    if applied.change is not None:
        record_status_change(target.code, applied.change.after)
    return PaymentStatus(applied.row.transaction.status)


async def _call(
    http: httpx.AsyncClient, settings: Settings, target: GatewayTarget
) -> PaymentResult | tuple[OperationStatus, str]:
    transaction, operation = target.row.transaction, target.operation
    connector = connectors.build_connector(
        target.code, account_context(target.account, settings.resolved_public_url()), http
    )
    request = CompletePayment(
        payment_id=target.row.request.id,
        operation_id=operation.id,
        idempotency_key=operation.gateway_idempotency_key,
        gateway_transaction_id=transaction.gateway_transaction_id or "",
        amount=transaction.amount,
        currency=transaction.currency,
        capture_method=CaptureMethod(transaction.capture_method),
    )
    try:
        return await connector.complete_payment(request)
    except GatewayNotSent as exc:
        return OperationStatus.PENDING, f"not sent: {exc}"
    except GatewayOutcomeUnknown as exc:
        return OperationStatus.UNKNOWN, f"outcome unknown: {exc}"
    except Exception as exc:
        log.exception("completion.connector_error", operation_id=str(operation.id))
        return OperationStatus.UNKNOWN, f"connector error: {type(exc).__name__}"


def needs_completion(code: str) -> bool:
    return connectors.connector_class(code).capabilities.needs_completion


__all__ = ["OperationKind", "complete", "needs_completion"]
