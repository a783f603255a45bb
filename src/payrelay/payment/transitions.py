"""Writing a state-machine step to the rows: amounts, timestamps, request status, the audit
trail and the merchant's callback, all in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from payrelay.audit import service as audit_service
from payrelay.callback import service as callback_service
from payrelay.connectors.base import PaymentOutcome
from payrelay.enums import REQUEST_STATUS_BY_PAYMENT_STATUS, PaymentStatus
from payrelay.escrow import service as escrow_service
from payrelay.kit.db import AsyncSession
from payrelay.kit.money import format_amount, quantize
from payrelay.payment.presenter import payment_body
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.payment.state import Fact, Ledger
from payrelay.statistics import service as statistics_service

FACT_BY_OUTCOME: dict[PaymentOutcome, Fact] = {
    PaymentOutcome.PENDING: Fact.PENDING,
    PaymentOutcome.AUTHORIZED: Fact.AUTHORIZED,
    PaymentOutcome.CAPTURED: Fact.CAPTURED,
    PaymentOutcome.DECLINED: Fact.DECLINED,
    PaymentOutcome.CANCELLED: Fact.CANCELLED,
    PaymentOutcome.EXPIRED: Fact.EXPIRED,
    PaymentOutcome.VOIDED: Fact.VOIDED,
    PaymentOutcome.FUNDS_RECEIVED: Fact.FUNDS_RECEIVED,
    # Approval changes no money: the payment stays pending until completion succeeds.
    PaymentOutcome.APPROVED: Fact.PENDING,
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    before: PaymentStatus
    after: PaymentStatus


async def ledger_of(session: AsyncSession, row: PaymentRow) -> Ledger:
    transaction = row.transaction
    reserved = await PaymentRepository(session).reservations(transaction.id)

    def exact(amount: Decimal) -> Decimal:
        """The column's scale is wider than the currency's; show amounts in the currency's."""
        return quantize(amount, transaction.currency)

    return Ledger(
        status=PaymentStatus(transaction.status),
        amount=exact(transaction.amount),
        authorized=exact(transaction.authorized_amount),
        captured=exact(transaction.captured_amount),
        refunded=exact(transaction.refunded_amount),
        capture_pending=exact(reserved.capture),
        refund_pending=exact(reserved.refund),
        void_pending=reserved.void,
        received=exact(transaction.received_amount),
    )


async def write_ledger(
    session: AsyncSession,
    row: PaymentRow,
    before: Ledger,
    after: Ledger,
    *,
    now: datetime,
    actor: str,
    authorization_validity: timedelta,
    data: dict[str, Any] | None = None,
) -> StatusChange | None:
    """Persist `after` if it differs from `before` and audit it; return the status change."""
    transaction, request = row.transaction, row.request
    if after == before:
        return None
    after.check_invariants()
    transaction.authorized_amount = after.authorized
    transaction.captured_amount = after.captured
    transaction.refunded_amount = after.refunded
    transaction.received_amount = after.received
    transaction.status = after.status.value
    transaction.updated_at = now
    if after.status is not before.status:
        _stamp(row, after.status, now, authorization_validity)
    request.status = REQUEST_STATUS_BY_PAYMENT_STATUS[after.status].value
    request.updated_at = now
    await session.flush()
    await escrow_service.follow_ledger(session, row, before, after, now=now, actor=actor)
    await statistics_service.follow_ledger(session, row, before, after, now=now)
    currency = transaction.currency
    event_data = {
        "status": after.status.value,
        "previous_status": before.status.value,
        "authorized_amount": format_amount(after.authorized, currency),
        "captured_amount": format_amount(after.captured, currency),
        "refunded_amount": format_amount(after.refunded, currency),
        **(data or {}),
    }
    if after.received != before.received:
        event_data["received_amount"] = format_amount(after.received, currency)
        event_data["receipt_amount"] = format_amount(after.received - before.received, currency)
    if after.refunded != before.refunded:
        event_data["refund_amount"] = format_amount(after.refunded - before.refunded, currency)
        event_type = "payment.refunded"
    elif after.status is not before.status:
        event_type = f"payment.{after.status.value}"
    else:
        event_type = _receipt_event(after)
    await audit_service.record(
        session,
        event_type=event_type,
        actor=actor,
        merchant_id=transaction.merchant_id,
        payment_request_id=request.id,
        payment_transaction_id=transaction.id,
        data=event_data,
    )
    if event_type in callback_service.EVENT_TYPES:
        await callback_service.enqueue(
            session,
            merchant_id=transaction.merchant_id,
            payment_request_id=request.id,
            event_type=event_type,
            data=payment_body(row),
            callback_url=request.callback_url,
            now=now,
        )
    if after.status is before.status:
        return None
    return StatusChange(before=before.status, after=after.status)


def _receipt_event(after: Ledger) -> str:
    """Money arrived without changing the status: part of the amount, too much, or too late."""
    if after.status is PaymentStatus.PENDING:
        return "payment.funds_received"
    if after.status in (PaymentStatus.EXPIRED, PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return "payment.late_funds"  # for an operator: money for a payment that is over
    return "payment.overpaid"


def _stamp(row: PaymentRow, status: PaymentStatus, now: datetime, validity: timedelta) -> None:
    transaction = row.transaction
    if status is PaymentStatus.AUTHORIZED:
        transaction.authorized_at = now
        transaction.authorization_expires_at = now + validity
    elif status is PaymentStatus.CAPTURED:
        transaction.authorized_at = transaction.authorized_at or now
        transaction.captured_at = now
        transaction.authorization_expires_at = None
    elif status is PaymentStatus.FAILED:
        transaction.failed_at = now
    elif status is PaymentStatus.VOIDED:
        transaction.voided_at = now
        transaction.authorization_expires_at = None
