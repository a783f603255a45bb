"""Applying what a gateway answered or reported to a payment, inside one transaction.

Results of our own operations (create, capture, void, refund), operations left unresolved, and
facts from webhooks all go through the state machine here; every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from payrelay import connectors
from payrelay.audit import service as audit_service
from payrelay.connectors.base import (
    Decline,
    GatewayEvent,
    OperationOutcome,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)
from payrelay.enums import OperationKind, OperationStatus, PaymentStatus
from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentOperation
from payrelay.payment import state
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.payment.transitions import FACT_BY_OUTCOME, StatusChange, ledger_of, write_ledger

UNRESOLVED_STATUSES = (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value)


@dataclass(frozen=True, slots=True)
class Applied:
    row: PaymentRow
    change: StatusChange | None
    changed: bool = False  # the money or the status moved (a part-payment moves only money)


async def _lock_operation(
    session: AsyncSession, operation_id: uuid.UUID
) -> tuple[PaymentOperation, PaymentRow]:
    """The operation and its payment, both locked: results are applied one at a time."""
    repository = PaymentRepository(session)
    operation = await repository.lock_operation(operation_id)
    assert operation is not None
    row = await repository.lock_by_transaction(operation.payment_transaction_id)
    assert row is not None
    return operation, row


async def apply_create_result(
    session: AsyncSession, operation_id: uuid.UUID, result: PaymentResult, *, now: datetime
) -> Applied:
    operation, row = await _lock_operation(session, operation_id)
    transaction = row.transaction
    declined = result.outcome is PaymentOutcome.DECLINED
    operation.status = (OperationStatus.FAILED if declined else OperationStatus.SUCCEEDED).value
    operation.gateway_operation_id = result.gateway_transaction_id
    operation.attempts += 1
    operation.completed_at = now
    operation.updated_at = now
    operation.error = _decline_dict(result.decline, now) if declined else None
    transaction.gateway_transaction_id = result.gateway_transaction_id
    transaction.gateway_reference_id = result.gateway_reference_id
    transaction.gateway_status = result.gateway_status[:50]
    transaction.gateway_response = dict(result.raw)
    transaction.next_action = result.next_action.as_dict() if result.next_action else None
    if declined:
        transaction.error_details = _decline_dict(result.decline, now)
    await session.flush()
    await audit_service.record(
        session,
        event_type="payment.initiated",
        actor="gateway",
        merchant_id=transaction.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=transaction.id,
        data={"operation_id": str(operation_id), "gateway_status": result.gateway_status},
        gateway_response=dict(result.raw),
    )
    change = await _apply_outcome(session, row, result.outcome, result.amount, now, "gateway")
    return Applied(row=row, change=change)


async def apply_operation_result(
    session: AsyncSession, operation_id: uuid.UUID, result: OperationResult, *, now: datetime
) -> Applied:
    operation, row = await _lock_operation(session, operation_id)
    if operation.status not in (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value):
        return Applied(row=row, change=None)  # already resolved (webhook or janitor was first)
    operation.gateway_operation_id = result.gateway_operation_id
    operation.attempts += 1
    operation.updated_at = now
    if result.outcome is OperationOutcome.PENDING:
        await session.flush()
        return Applied(row=row, change=None)
    succeeded = result.outcome is OperationOutcome.SUCCEEDED
    operation.status = (OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED).value
    operation.completed_at = now
    operation.error = None if succeeded else _decline_dict(result.decline, now)
    row.transaction.gateway_status = result.gateway_status[:50]
    await session.flush()
    kind = OperationKind(operation.kind)
    await audit_service.record(
        session,
        event_type=f"{kind.value}.{'succeeded' if succeeded else 'failed'}",
        actor="gateway",
        merchant_id=operation.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=row.transaction.id,
        data={"operation_id": str(operation.id), "error": operation.error},
        gateway_response=dict(result.raw),
    )
    if not succeeded:
        return Applied(row=row, change=None)
    fact = {
        OperationKind.CAPTURE: state.Fact.CAPTURED,
        OperationKind.VOID: state.Fact.VOIDED,
        OperationKind.REFUND: state.Fact.REFUNDED,
    }[kind]
    # Read after the operation left `pending`: its amount is no longer reserved.
    before = await ledger_of(session, row)
    after = state.apply(before, fact, operation.amount)
    change = await write_ledger(
        session,
        row,
        before,
        after,
        now=now,
        actor="gateway",
        authorization_validity=_validity(row.gateway),
        data={"operation_id": str(operation.id)},
    )
    return Applied(row=row, change=change)


async def mark_unresolved(
    session: AsyncSession,
    operation_id: uuid.UUID,
    status: OperationStatus,
    error: str,
    *,
    attempted: bool,
    next_check_at: datetime,
    now: datetime,
) -> None:
    """The gateway did not answer: keep the operation (and its reservation) for a retry or the
    janitor's status query."""
    repository = PaymentRepository(session)
    operation = await repository.lock_operation(operation_id)
    assert operation is not None
    if operation.status not in (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value):
        return
    operation.status = status.value
    if attempted:
        operation.attempts += 1
    operation.error = {"message": error, "at": now.isoformat()}
    operation.next_check_at = next_check_at
    operation.updated_at = now
    await session.flush()
    row = await repository.lock_by_transaction(operation.payment_transaction_id)
    assert row is not None
    await audit_service.record(
        session,
        event_type=f"{operation.kind}.{status.value}",
        actor="gateway",
        merchant_id=operation.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=row.transaction.id,
        data={"operation_id": str(operation.id), "error": error},
    )


async def apply_gateway_event(
    session: AsyncSession, transaction_id: int, event: GatewayEvent, *, now: datetime
) -> Applied:
    """A fact reported by the gateway (webhook). Duplicates and stale facts change nothing."""
    row = await PaymentRepository(session).lock_by_transaction(transaction_id)
    assert row is not None
    transaction = row.transaction
    if event.gateway_transaction_id and not transaction.gateway_transaction_id:
        transaction.gateway_transaction_id = event.gateway_transaction_id
    if event.outcome is PaymentOutcome.DECLINED and transaction.status == "pending":
        transaction.error_details = _decline_dict(event.decline, now)
    if PaymentStatus(transaction.status) is PaymentStatus.PENDING:
        transaction.gateway_status = event.gateway_status[:50]
    await session.flush()
    before = await ledger_of(session, row)
    change = await _apply_outcome(session, row, event.outcome, event.amount, now, "gateway")
    if transaction.status != PaymentStatus.PENDING.value and transaction.next_action is not None:
        # The customer has nothing left to do (a part-payment keeps the transfer instructions).
        transaction.next_action = None
        await session.flush()
    moved = await ledger_of(session, row) != before
    return Applied(row=row, change=change, changed=moved)


async def _apply_outcome(
    session: AsyncSession,
    row: PaymentRow,
    outcome: PaymentOutcome,
    amount: Decimal | None,
    now: datetime,
    actor: str,
) -> StatusChange | None:
    before = await ledger_of(session, row)
    after = state.apply(before, FACT_BY_OUTCOME[outcome], amount)
    return await write_ledger(
        session,
        row,
        before,
        after,
        now=now,
        actor=actor,
        authorization_validity=_validity(row.gateway),
    )


def _validity(code: str) -> timedelta:
    return connectors.connector_class(code).capabilities.authorization_validity


def _decline_dict(decline: Any, now: datetime) -> dict[str, Any]:
    if decline is None:
        return {
            "code": "declined",
            "message": "Declined by the gateway",
            "timestamp": now.isoformat(),
        }
    return {
        "code": decline.code,
        "message": decline.message,
        "gateway_code": decline.gateway_code,
        "gateway_message": decline.gateway_message,
        "timestamp": now.isoformat(),
    }


async def apply_status(
    session: AsyncSession,
    transaction_id: int,
    result: PaymentResult,
    *,
    now: datetime,
    next_check_at: datetime,
) -> Applied:
    """The janitor asked the gateway about a payment it never reported on."""
    row = await PaymentRepository(session).lock_by_transaction(transaction_id)
    assert row is not None
    transaction = row.transaction
    transaction.status_checks += 1
    transaction.next_status_check_at = next_check_at
    if result.outcome is PaymentOutcome.DECLINED and transaction.status == "pending":
        transaction.error_details = _decline_dict(result.decline, now)
    if transaction.status == PaymentStatus.PENDING.value:
        transaction.gateway_status = result.gateway_status[:50]
    await session.flush()
    await audit_service.record(
        session,
        event_type="payment.status_checked",
        actor="janitor",
        merchant_id=transaction.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=transaction.id,
        data={"gateway_status": result.gateway_status, "outcome": result.outcome.value},
        gateway_response=dict(result.raw),
    )
    change = await _apply_outcome(session, row, result.outcome, result.amount, now, "janitor")
    return Applied(row=row, change=change)


async def expire(
    session: AsyncSession, transaction_id: int, result: PaymentResult | None, *, now: datetime
) -> Applied:
    """A pending payment reached `expires_at`. If the gateway says the customer paid (or was
    declined) meanwhile, that is what happened; otherwise it expires."""
    row = await PaymentRepository(session).lock_by_transaction(transaction_id)
    assert row is not None
    settled = result is not None and result.outcome in (
        PaymentOutcome.AUTHORIZED,
        PaymentOutcome.CAPTURED,
        PaymentOutcome.DECLINED,
    )
    outcome = result.outcome if settled and result is not None else PaymentOutcome.EXPIRED
    if result is not None and row.transaction.status == PaymentStatus.PENDING.value:
        row.transaction.gateway_status = result.gateway_status[:50]
        row.transaction.next_action = None
        await session.flush()
    amount = result.amount if result is not None else None
    change = await _apply_outcome(session, row, outcome, amount, now, "system")
    return Applied(row=row, change=change)


async def resolve_operation(
    session: AsyncSession,
    operation_id: uuid.UUID,
    result: PaymentResult,
    *,
    reports_operations: bool,
    now: datetime,
    next_check_at: datetime,
) -> Applied | None:
    """The janitor's answer for an operation whose outcome we never learned. Never a resend:
    what the gateway says happened is what happened. None: still unknown, checked again later."""
    repository = PaymentRepository(session)
    operation = await repository.lock_operation(operation_id)
    assert operation is not None
    if operation.status not in (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value):
        return None
    if operation.kind == OperationKind.CREATE.value:
        if result.found:
            return await apply_create_result(session, operation_id, result, now=now)
        return await _never_arrived(session, operation, now)
    if operation.kind == OperationKind.COMPLETE.value:
        if result.outcome in (PaymentOutcome.APPROVED, PaymentOutcome.PENDING):
            # Not completed at the gateway: it stays open, and the next trigger (the approval
            # webhook, the customer's return, the janitor finding it approved) sends it again.
            operation.next_check_at = next_check_at
            await session.flush()
            return None
        return await apply_completion_result(session, operation_id, result, now=now)
    outcome = result.operations.get(operation.gateway_idempotency_key)
    if outcome is None and reports_operations and result.found:
        outcome = OperationOutcome.DECLINED  # the gateway lists what it did: not this
    if outcome is None and result.found:
        outcome = _settled_by_state(OperationKind(operation.kind), result.outcome)
    if outcome is None:
        operation.status = OperationStatus.UNKNOWN.value
        operation.next_check_at = next_check_at
        operation.updated_at = now
        await session.flush()
        return None
    verdict = OperationResult(
        outcome=outcome,
        gateway_status=result.gateway_status,
        decline=None
        if outcome is OperationOutcome.SUCCEEDED
        else Decline(code="not_at_gateway", message="the gateway has no record of it"),
        raw=dict(result.raw),
    )
    return await apply_operation_result(session, operation_id, verdict, now=now)


def _settled_by_state(kind: OperationKind, state_now: PaymentOutcome) -> OperationOutcome | None:
    """A capture or void shows in the payment's state at the gateway, even when the gateway does
    not list its operations: captured means the capture happened, still authorized means it did
    not. A refund does not (several can exist), so it stays unknown."""
    if kind is OperationKind.CAPTURE:
        if state_now is PaymentOutcome.CAPTURED:
            return OperationOutcome.SUCCEEDED
        if state_now is PaymentOutcome.AUTHORIZED:
            return OperationOutcome.DECLINED
    if kind is OperationKind.VOID:
        if state_now in (PaymentOutcome.VOIDED, PaymentOutcome.CANCELLED):
            return OperationOutcome.SUCCEEDED
        if state_now is PaymentOutcome.AUTHORIZED:
            return OperationOutcome.DECLINED
    return None


async def _never_arrived(
    session: AsyncSession, operation: PaymentOperation, now: datetime
) -> Applied:
    """Our create never reached the gateway: the payment fails, nothing was charged."""
    decline = Decline(code="gateway_unavailable", message="the gateway never received it")
    result = PaymentResult(
        outcome=PaymentOutcome.DECLINED, gateway_status="NOT_FOUND", decline=decline, found=False
    )
    return await apply_create_result(session, operation.id, result, now=now)


async def reschedule(session: AsyncSession, operation_id: uuid.UUID, at: datetime) -> None:
    """The status query itself failed: ask again later."""
    operation = await PaymentRepository(session).lock_operation(operation_id)
    if operation is not None and operation.status in UNRESOLVED_STATUSES:
        operation.next_check_at = at
        await session.flush()


async def apply_completion_result(
    session: AsyncSession, operation_id: uuid.UUID, result: PaymentResult, *, now: datetime
) -> Applied:
    """What the gateway answered when we completed an approved payment."""
    operation, row = await _lock_operation(session, operation_id)
    if operation.status not in UNRESOLVED_STATUSES:
        return Applied(row=row, change=None)
    transaction = row.transaction
    declined = result.outcome is PaymentOutcome.DECLINED
    operation.status = (OperationStatus.FAILED if declined else OperationStatus.SUCCEEDED).value
    operation.gateway_operation_id = result.gateway_reference_id or result.gateway_transaction_id
    operation.attempts += 1
    operation.completed_at = now
    operation.updated_at = now
    operation.error = _decline_dict(result.decline, now) if declined else None
    if transaction.status == PaymentStatus.PENDING.value:
        transaction.gateway_status = result.gateway_status[:50]
        transaction.gateway_response = {**(transaction.gateway_response or {}), **result.raw}
        if result.gateway_reference_id:
            transaction.gateway_reference_id = result.gateway_reference_id
        if declined:
            transaction.error_details = _decline_dict(result.decline, now)
    await session.flush()
    await audit_service.record(
        session,
        event_type=f"complete.{'failed' if declined else 'succeeded'}",
        actor="gateway",
        merchant_id=transaction.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=transaction.id,
        data={"operation_id": str(operation_id), "gateway_status": result.gateway_status},
        gateway_response=dict(result.raw),
    )
    outcome = result.outcome
    if outcome is PaymentOutcome.APPROVED:  # still only approved: nothing was completed
        return Applied(row=row, change=None)
    change = await _apply_outcome(session, row, outcome, result.amount, now, "gateway")
    if transaction.status != PaymentStatus.PENDING.value and transaction.next_action is not None:
        transaction.next_action = None  # completed: the approve link is of no use any more
        await session.flush()
    return Applied(row=row, change=change, changed=change is not None)
