"""The seller's share of marketplace payments, held in escrow until delivery.

Every change of a marketplace payment's money reaches `follow_ledger` (from
`payment.transitions.write_ledger`, in the same transaction, with the payment locked), which moves
the escrow by the pure rules of `escrow.ledger` and audits each change. Releases — the merchant's
call or the worker's after the hold period — lock the payment the same way, so a release and a
refund of one payment are serialized.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from payrelay.audit import service as audit_service
from payrelay.callback import service as callback_service
from payrelay.enums import EscrowStatus, PaymentStatus
from payrelay.escrow import ledger
from payrelay.escrow.errors import NotAMarketplacePayment, SellerNotFound
from payrelay.escrow.repository import EscrowFilters, EscrowRepository, Holding, SellerTotals
from payrelay.exceptions import PayrelayError
from payrelay.kit.db import AsyncSession
from payrelay.kit.money import format_amount, quantize
from payrelay.logging import get_logger
from payrelay.models import EscrowPayment, Merchant, PaymentTransaction
from payrelay.payment.errors import PaymentNotFound
from payrelay.payment.presenter import payment_body
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.payment.state import Ledger

log = get_logger(__name__)

RELEASED_EVENT = "escrow.released"


async def follow_ledger(
    session: AsyncSession,
    row: PaymentRow,
    before: Ledger,
    after: Ledger,
    *,
    now: datetime,
    actor: str,
) -> None:
    """Keep a marketplace payment's escrow in step with a change of its money, in the caller's
    transaction; sets `row.escrow` so the callback and the answer show it."""
    transaction = row.transaction
    if transaction.seller_id is None:
        return
    repository = EscrowRepository(session)
    escrow = await repository.lock(transaction.id)
    row.escrow = escrow
    current = None if escrow is None else state_of(escrow)
    moved = ledger.follow(
        current, terms_of(transaction), after.status, after.captured, after.refunded
    )
    if moved is None or moved == current:
        return
    moved.check_invariants()
    if escrow is None:
        escrow = EscrowPayment(
            payment_transaction_id=transaction.id,
            merchant_id=transaction.merchant_id,
            seller_id=transaction.seller_id,
            currency=transaction.currency,
            created_at=now,
        )
    if moved.captured > 0 and escrow.release_after is None:
        hold = await _hold_days(session, transaction.merchant_id)
        escrow.release_after = (transaction.captured_at or now) + timedelta(days=hold)
    _write(escrow, moved, now)
    if current is None:
        await repository.add(escrow)
    else:
        await session.flush()
    row.escrow = escrow
    await _audit(session, row, escrow, current, moved, actor=actor)


async def release(
    session: AsyncSession,
    merchant: Merchant,
    payment_id: uuid.UUID,
    *,
    reason: str | None,
    now: datetime,
) -> PaymentRow:
    """The merchant confirms delivery: pay the seller's share out now."""
    row = await PaymentRepository(session).lock(merchant.id, payment_id)
    if row is None:
        raise PaymentNotFound("payment not found")
    if row.transaction.seller_id is None:
        raise NotAMarketplacePayment(
            "this payment was created without a seller_id: it has no escrow to release",
            details={"payment_status": row.transaction.status},
        )
    await _release(session, row, reason=reason, now=now, actor="merchant")
    return row


async def release_due_batch(session: AsyncSession, *, now: datetime, limit: int) -> tuple[int, int]:
    """Release up to `limit` held escrow whose hold period is over: (claimed, released)."""
    rows = await EscrowRepository(session).claim_due(now, limit)
    released = 0
    for row in rows:
        reservations = await PaymentRepository(session).reservations(row.transaction.id)
        if reservations.refund > 0:  # a refund started after the claim's snapshot: next run
            continue
        try:
            await _release(session, row, reason="hold period over", now=now, actor="system")
        except PayrelayError as exc:  # refused before anything was written: leave it be
            log.warning("escrow.release_skipped", payment_id=str(row.request.id), code=exc.code)
            continue
        released += 1
    return len(rows), released


async def list_holdings(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    filters: EscrowFilters,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[Sequence[Holding], list[SellerTotals]]:
    """One page of the merchant's escrow, newest first, and the totals of everything the
    filters select."""
    repository = EscrowRepository(session)
    if filters.seller_id is not None and not await repository.seller_exists(
        merchant_id, filters.seller_id
    ):
        raise SellerNotFound(
            "no marketplace payment of yours names this seller",
            details={"seller_id": filters.seller_id},
        )
    return await repository.page(merchant_id, filters, after, limit), await repository.totals(
        merchant_id, filters
    )


def state_of(escrow: EscrowPayment) -> ledger.Escrow:
    currency = escrow.currency
    return ledger.Escrow(
        status=EscrowStatus(escrow.status),
        captured=quantize(escrow.captured_amount, currency),
        commission=quantize(escrow.commission_amount, currency),
        seller=quantize(escrow.amount, currency),
        refunded=quantize(escrow.refunded_amount, currency),
        released=None
        if escrow.released_amount is None
        else quantize(escrow.released_amount, currency),
    )


def terms_of(transaction: PaymentTransaction) -> ledger.Terms:
    currency = transaction.currency
    return ledger.Terms(
        amount=quantize(transaction.amount, currency),
        commission=quantize(transaction.marketplace_commission, currency),
        currency=currency,
    )


async def _release(
    session: AsyncSession, row: PaymentRow, *, reason: str | None, now: datetime, actor: str
) -> None:
    """Release `row`'s escrow; the payment is locked by the caller."""
    escrow = await EscrowRepository(session).lock(row.transaction.id)
    row.escrow = escrow
    reservations = await PaymentRepository(session).reservations(row.transaction.id)
    current = None if escrow is None else state_of(escrow)
    released = ledger.release(
        current,
        payment_status=PaymentStatus(row.transaction.status),
        refund_pending=reservations.refund > 0,
    )
    released.check_invariants()
    assert escrow is not None
    _write(escrow, released, now)
    escrow.released_at = now
    row.transaction.updated_at = now  # the payment object changed: its escrow shows the payout
    await session.flush()
    await _audit(session, row, escrow, current, released, actor=actor, reason=reason)
    await callback_service.enqueue(
        session,
        merchant_id=row.transaction.merchant_id,
        payment_request_id=row.request.id,
        event_type=RELEASED_EVENT,
        data=payment_body(row),
        callback_url=row.request.callback_url,
        now=now,
    )


async def _hold_days(session: AsyncSession, merchant_id: uuid.UUID) -> int:
    merchant = await session.get(Merchant, merchant_id)
    assert merchant is not None
    return merchant.escrow_hold_days


def _write(escrow: EscrowPayment, state: ledger.Escrow, now: datetime) -> None:
    escrow.status = state.status.value
    escrow.captured_amount = state.captured
    escrow.commission_amount = state.commission
    escrow.amount = state.seller
    escrow.refunded_amount = state.refunded
    escrow.released_amount = state.released
    escrow.seller_debt = state.seller_debt
    escrow.updated_at = now


def _event_type(before: ledger.Escrow | None, after: ledger.Escrow) -> str:
    if after.status is EscrowStatus.CANCELLED:
        return "escrow.cancelled"
    if after.released is not None and (before is None or before.released is None):
        return RELEASED_EVENT
    if before is None or before.captured == 0:
        return "escrow.held" if after.captured > 0 else "escrow.opened"
    if after.seller_debt > before.seller_debt:
        return "escrow.seller_debt"
    if after.status is EscrowStatus.REFUNDED:
        return "escrow.refunded"
    return "escrow.adjusted"


async def _audit(
    session: AsyncSession,
    row: PaymentRow,
    escrow: EscrowPayment,
    before: ledger.Escrow | None,
    after: ledger.Escrow,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    currency = escrow.currency

    def money(value: Any) -> str:
        return format_amount(value, currency)

    data: dict[str, Any] = {
        "seller_id": escrow.seller_id,
        "status": after.status.value,
        "previous_status": None if before is None else before.status.value,
        "seller_amount": money(after.seller),
        "commission": money(after.commission),
        "refunded_amount": money(after.refunded),
        "captured_amount": money(after.captured),
        "released_amount": None if after.released is None else money(after.released),
        "seller_debt": money(after.seller_debt),
        "release_after": None if escrow.release_after is None else escrow.release_after.isoformat(),
    }
    if before is not None:
        data["seller_amount_change"] = money(after.seller - before.seller)
        data["commission_change"] = money(after.commission - before.commission)
    if reason is not None:
        data["reason"] = reason
    await audit_service.record(
        session,
        event_type=_event_type(before, after),
        actor=actor,
        merchant_id=row.transaction.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=row.transaction.id,
        data=data,
    )
