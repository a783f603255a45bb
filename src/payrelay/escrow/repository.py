"""All SQL of the escrow domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, or_, select

from payrelay.enums import EscrowStatus, OperationKind
from payrelay.kit.db import AsyncSession
from payrelay.models import (
    EscrowPayment,
    PaymentGateway,
    PaymentOperation,
    PaymentRequest,
    PaymentTransaction,
)
from payrelay.payment.repository import UNRESOLVED, PaymentRow


@dataclass(frozen=True, slots=True)
class EscrowFilters:
    seller_id: str | None = None
    status: EscrowStatus | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Holding:
    """One escrow row with the ids of its payment, as the list shows it."""

    escrow: EscrowPayment
    payment_id: uuid.UUID
    order_id: str
    listing_id: str | None


@dataclass(frozen=True, slots=True)
class SellerTotals:
    seller_id: str
    currency: str
    payments: int
    held: Decimal
    released: Decimal
    refunded: Decimal
    commission: Decimal
    seller_debt: Decimal


def _payment_select() -> Select[PaymentRequest, PaymentTransaction, str, EscrowPayment]:
    return (
        select(PaymentRequest, PaymentTransaction, PaymentGateway.code, EscrowPayment)
        .select_from(EscrowPayment)
        .join(PaymentTransaction, PaymentTransaction.id == EscrowPayment.payment_transaction_id)
        .join(PaymentRequest, PaymentRequest.id == PaymentTransaction.payment_request_id)
        .join(PaymentGateway, PaymentGateway.id == PaymentTransaction.gateway_id)
    )


def _payment_row(row: Row[PaymentRequest, PaymentTransaction, str, EscrowPayment]) -> PaymentRow:
    request, transaction, gateway, escrow = row
    return PaymentRow(request=request, transaction=transaction, gateway=gateway, escrow=escrow)


class EscrowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, escrow: EscrowPayment) -> None:
        self.session.add(escrow)
        await self.session.flush()

    async def lock(self, transaction_id: int) -> EscrowPayment | None:
        """The escrow of a transaction, locked and read afresh. Callers hold the payment's lock
        already; the row they loaded with it may predate a change committed while they waited."""
        result = await self.session.execute(
            select(EscrowPayment)
            .where(EscrowPayment.payment_transaction_id == transaction_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def claim_due(self, now: datetime, limit: int) -> list[PaymentRow]:
        """Held escrow past `release_after` with no refund in flight, with its payment: request,
        transaction and escrow rows all locked; rows another transaction holds are skipped, so
        this never waits (and never deadlocks with a payment command)."""
        refund_in_flight = (
            select(PaymentOperation.id)
            .where(
                PaymentOperation.payment_transaction_id == EscrowPayment.payment_transaction_id,
                PaymentOperation.kind == OperationKind.REFUND.value,
                PaymentOperation.status.in_(UNRESOLVED),
            )
            .exists()
        )
        result = await self.session.execute(
            _payment_select()
            .where(
                EscrowPayment.status == EscrowStatus.HELD.value,
                EscrowPayment.release_after <= now,
                ~refund_in_flight,
            )
            .order_by(EscrowPayment.release_after, EscrowPayment.id)
            .limit(limit)
            .with_for_update(
                of=[PaymentRequest, PaymentTransaction, EscrowPayment], skip_locked=True
            )
            .execution_options(populate_existing=True)
        )
        return [_payment_row(row) for row in result.all()]

    async def seller_exists(self, merchant_id: uuid.UUID, seller_id: str) -> bool:
        result = await self.session.execute(
            select(EscrowPayment.id)
            .where(EscrowPayment.merchant_id == merchant_id, EscrowPayment.seller_id == seller_id)
            .limit(1)
        )
        return result.first() is not None

    async def page(
        self,
        merchant_id: uuid.UUID,
        filters: EscrowFilters,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> Sequence[Holding]:
        query = (
            select(
                EscrowPayment,
                PaymentRequest.id,
                PaymentRequest.order_id,
                PaymentTransaction.listing_id,
            )
            .join(PaymentTransaction, PaymentTransaction.id == EscrowPayment.payment_transaction_id)
            .join(PaymentRequest, PaymentRequest.id == PaymentTransaction.payment_request_id)
            .where(*_conditions(merchant_id, filters))
        )
        if after is not None:
            created_at, escrow_id = after
            query = query.where(
                or_(
                    EscrowPayment.created_at < created_at,
                    and_(EscrowPayment.created_at == created_at, EscrowPayment.id < escrow_id),
                )
            )
        query = query.order_by(EscrowPayment.created_at.desc(), EscrowPayment.id.desc())
        result = await self.session.execute(query.limit(limit))
        return [
            Holding(escrow=escrow, payment_id=payment_id, order_id=order_id, listing_id=listing_id)
            for escrow, payment_id, order_id, listing_id in result.all()
        ]

    async def totals(self, merchant_id: uuid.UUID, filters: EscrowFilters) -> list[SellerTotals]:
        """Sums per (seller, currency) over every row the filters select; never across
        currencies."""
        held = case(
            (EscrowPayment.status == EscrowStatus.HELD.value, EscrowPayment.amount), else_=0
        )
        result = await self.session.execute(
            select(
                EscrowPayment.seller_id,
                EscrowPayment.currency,
                func.count(),
                func.sum(held),
                func.coalesce(func.sum(EscrowPayment.released_amount), 0),
                func.sum(EscrowPayment.refunded_amount),
                func.sum(EscrowPayment.commission_amount),
                func.sum(EscrowPayment.seller_debt),
            )
            .where(*_conditions(merchant_id, filters))
            .group_by(EscrowPayment.seller_id, EscrowPayment.currency)
            .order_by(EscrowPayment.seller_id, EscrowPayment.currency)
        )
        return [
            SellerTotals(
                seller_id=seller_id,
                currency=currency,
                payments=int(count),
                held=Decimal(held_sum),
                released=Decimal(released),
                refunded=Decimal(refunded),
                commission=Decimal(commission),
                seller_debt=Decimal(debt),
            )
            for seller_id, currency, count, held_sum, released, refunded, commission, debt in (
                result.all()
            )
        ]


def _conditions(merchant_id: uuid.UUID, filters: EscrowFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [EscrowPayment.merchant_id == merchant_id]
    if filters.seller_id is not None:
        conditions.append(EscrowPayment.seller_id == filters.seller_id)
    if filters.status is not None:
        conditions.append(EscrowPayment.status == filters.status.value)
    if filters.currency is not None:
        conditions.append(EscrowPayment.currency == filters.currency)
    return conditions
