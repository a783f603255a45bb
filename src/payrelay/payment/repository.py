"""All SQL of the payment domain."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, ScalarSelect, Select, and_, bindparam, func, or_, select, text
from sqlalchemy.orm import aliased

from payrelay.enums import OperationKind, OperationStatus, PaymentStatus
from payrelay.kit.db import AsyncSession
from payrelay.models import (
    EscrowPayment,
    PaymentGateway,
    PaymentOperation,
    PaymentRequest,
    PaymentTransaction,
)

UNRESOLVED = (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value)


@dataclass(slots=True)
class PaymentRow:
    """A payment as the merchant sees it: the request, its current transaction and the rest.
    `escrow` is set by the escrow service when a change of money creates or moves it."""

    request: PaymentRequest
    transaction: PaymentTransaction
    gateway: str
    escrow: EscrowPayment | None


@dataclass(frozen=True, slots=True)
class Reservations:
    capture: Decimal
    refund: Decimal
    void: bool


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    order_id: str | None = None
    status: str | None = None
    gateway: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@functools.cache
def _current_transaction_id() -> ScalarSelect[int]:
    latest = aliased(PaymentTransaction)
    return (
        select(func.max(latest.id))
        .where(latest.payment_request_id == PaymentRequest.id)
        .scalar_subquery()
    )


@functools.cache
def _payment_select() -> Select[PaymentRequest, PaymentTransaction, str, EscrowPayment]:
    """Built once: statements are immutable, and building this one (an aliased subquery) costs
    more than running it."""
    return (
        select(PaymentRequest, PaymentTransaction, PaymentGateway.code, EscrowPayment)
        .select_from(PaymentRequest)
        # The request-to-transaction key first: whichever side a lookup starts from (a payment
        # id or a transaction id), the planner reaches the other through an index; the latest
        # transaction alone would only be a filter, evaluated for every request.
        .join(
            PaymentTransaction,
            and_(
                PaymentTransaction.payment_request_id == PaymentRequest.id,
                PaymentTransaction.id == _current_transaction_id(),
            ),
        )
        .join(PaymentGateway, PaymentGateway.id == PaymentTransaction.gateway_id)
        .outerjoin(EscrowPayment, EscrowPayment.payment_transaction_id == PaymentTransaction.id)
    )


# Built once (see `_payment_select`); run on every change of a payment.
_RESERVATIONS = (
    select(PaymentOperation.kind, func.coalesce(func.sum(PaymentOperation.amount), 0))
    .where(
        PaymentOperation.payment_transaction_id == bindparam("transaction_id"),
        PaymentOperation.status.in_(UNRESOLVED),
    )
    .group_by(PaymentOperation.kind)
)


def _row(row: Row[PaymentRequest, PaymentTransaction, str, EscrowPayment]) -> PaymentRow:
    request, transaction, gateway, escrow = row
    return PaymentRow(request=request, transaction=transaction, gateway=gateway, escrow=escrow)


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *rows: object) -> None:
        for row in rows:
            self.session.add(row)
            await self.session.flush()

    async def get(self, merchant_id: uuid.UUID, payment_id: uuid.UUID) -> PaymentRow | None:
        result = await self.session.execute(
            _payment_select().where(
                PaymentRequest.id == payment_id, PaymentRequest.merchant_id == merchant_id
            )
        )
        row = result.one_or_none()
        return None if row is None else _row(row)

    async def lock(self, merchant_id: uuid.UUID, payment_id: uuid.UUID) -> PaymentRow | None:
        """The payment with its request and transaction rows locked until the end of the
        transaction: every change to one payment is serialized here."""
        result = await self.session.execute(
            _payment_select()
            .where(PaymentRequest.id == payment_id, PaymentRequest.merchant_id == merchant_id)
            .with_for_update(of=[PaymentRequest, PaymentTransaction])
        )
        row = result.one_or_none()
        return None if row is None else _row(row)

    async def get_by_transaction(self, transaction_id: int) -> PaymentRow | None:
        result = await self.session.execute(
            _payment_select().where(PaymentTransaction.id == transaction_id)
        )
        row = result.one_or_none()
        return None if row is None else _row(row)

    async def lock_by_transaction(self, transaction_id: int) -> PaymentRow | None:
        result = await self.session.execute(
            _payment_select()
            .where(PaymentTransaction.id == transaction_id)
            .with_for_update(of=[PaymentRequest, PaymentTransaction])
        )
        row = result.one_or_none()
        return None if row is None else _row(row)

    async def find_transaction_id(
        self,
        account_id: int,
        *,
        payment_id: uuid.UUID | None,
        gateway_transaction_id: str | None,
    ) -> int | None:
        conditions = []
        if payment_id is not None:
            conditions.append(PaymentTransaction.payment_request_id == payment_id)
        if gateway_transaction_id is not None:
            conditions.append(PaymentTransaction.gateway_transaction_id == gateway_transaction_id)
        if not conditions:
            return None
        result = await self.session.execute(
            select(PaymentTransaction.id)
            .where(PaymentTransaction.gateway_id == account_id, or_(*conditions))
            .order_by(PaymentTransaction.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def page(
        self,
        merchant_id: uuid.UUID,
        filters: PaymentFilters,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[PaymentRow]:
        query = _payment_select().where(PaymentRequest.merchant_id == merchant_id)
        if filters.order_id is not None:
            query = query.where(PaymentRequest.order_id == filters.order_id)
        if filters.status is not None:
            query = query.where(PaymentTransaction.status == filters.status)
        if filters.gateway is not None:
            query = query.where(PaymentGateway.code == filters.gateway)
        if filters.created_from is not None:
            query = query.where(PaymentRequest.created_at >= filters.created_from)
        if filters.created_to is not None:
            query = query.where(PaymentRequest.created_at < filters.created_to)
        if after is not None:
            created_at, payment_id = after
            query = query.where(
                or_(
                    PaymentRequest.created_at < created_at,
                    and_(PaymentRequest.created_at == created_at, PaymentRequest.id < payment_id),
                )
            )
        query = query.order_by(PaymentRequest.created_at.desc(), PaymentRequest.id.desc())
        result = await self.session.execute(query.limit(limit))
        return [_row(row) for row in result.all()]

    async def reservations(self, transaction_id: int) -> Reservations:
        """Amounts held by operations sent but not yet resolved."""
        result = await self.session.execute(_RESERVATIONS, {"transaction_id": transaction_id})
        totals = {kind: Decimal(amount or 0) for kind, amount in result.all()}
        return Reservations(
            capture=totals.get(OperationKind.CAPTURE.value, Decimal(0)),
            refund=totals.get(OperationKind.REFUND.value, Decimal(0)),
            void=OperationKind.VOID.value in totals,
        )

    async def get_operation(self, operation_id: uuid.UUID) -> PaymentOperation | None:
        return await self.session.get(PaymentOperation, operation_id)

    async def latest_operation(
        self, transaction_id: int, kind: OperationKind
    ) -> PaymentOperation | None:
        result = await self.session.execute(
            select(PaymentOperation)
            .where(
                PaymentOperation.payment_transaction_id == transaction_id,
                PaymentOperation.kind == kind.value,
            )
            .order_by(PaymentOperation.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def lock_operation(self, operation_id: uuid.UUID) -> PaymentOperation | None:
        result = await self.session.execute(
            select(PaymentOperation).where(PaymentOperation.id == operation_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def lock_user_listing(
        self, merchant_id: uuid.UUID, user_id: str, listing_id: str
    ) -> None:
        """Serialize creates for one (merchant, user, listing) so the duplicate guard is exact."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"charge:{merchant_id}:{user_id}:{listing_id}"},
        )

    async def recent_charge_exists(
        self, merchant_id: uuid.UUID, user_id: str, listing_id: str, since: datetime
    ) -> bool:
        result = await self.session.execute(
            select(PaymentTransaction.id)
            .where(
                PaymentTransaction.merchant_id == merchant_id,
                PaymentTransaction.user_id == user_id,
                PaymentTransaction.listing_id == listing_id,
                PaymentTransaction.status.in_(
                    [PaymentStatus.CAPTURED.value, PaymentStatus.AUTHORIZED.value]
                ),
                PaymentTransaction.created_at >= since,
            )
            .limit(1)
        )
        return result.first() is not None

    async def active_exists(self, merchant_id: uuid.UUID, user_id: str, listing_id: str) -> bool:
        result = await self.session.execute(
            select(PaymentTransaction.id)
            .where(
                PaymentTransaction.merchant_id == merchant_id,
                PaymentTransaction.user_id == user_id,
                PaymentTransaction.listing_id == listing_id,
                PaymentTransaction.status.in_(
                    [PaymentStatus.PENDING.value, PaymentStatus.AUTHORIZED.value]
                ),
            )
            .limit(1)
        )
        return result.first() is not None

    async def due_expiry(self, now: datetime, limit: int) -> list[tuple[int, uuid.UUID]]:
        result = await self.session.execute(
            select(PaymentTransaction.id, PaymentTransaction.merchant_id)
            .where(
                PaymentTransaction.status == PaymentStatus.PENDING.value,
                PaymentTransaction.expires_at <= now,
            )
            .order_by(PaymentTransaction.expires_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def due_auto_void(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(payment id, merchant id) of authorizations past their validity."""
        result = await self.session.execute(
            select(PaymentTransaction.payment_request_id, PaymentTransaction.merchant_id)
            .where(
                PaymentTransaction.status == PaymentStatus.AUTHORIZED.value,
                PaymentTransaction.authorization_expires_at <= now,
            )
            .order_by(PaymentTransaction.authorization_expires_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def unresolved_operations(
        self, now: datetime, stale_before: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Operations nobody resolved: scheduled for a check, or left behind by a crash."""
        result = await self.session.execute(
            select(PaymentOperation.id)
            .where(
                PaymentOperation.status.in_(UNRESOLVED),
                or_(
                    PaymentOperation.next_check_at <= now,
                    and_(
                        PaymentOperation.next_check_at.is_(None),
                        PaymentOperation.created_at < stale_before,
                    ),
                ),
            )
            .order_by(PaymentOperation.created_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def silent_pending(self, now: datetime, stale_before: datetime, limit: int) -> list[int]:
        """Pending payments the gateway accepted but never reported on."""
        unresolved_create = (
            select(PaymentOperation.id)
            .where(
                PaymentOperation.payment_transaction_id == PaymentTransaction.id,
                PaymentOperation.status.in_(UNRESOLVED),
            )
            .exists()
        )
        result = await self.session.execute(
            select(PaymentTransaction.id)
            .where(
                PaymentTransaction.status == PaymentStatus.PENDING.value,
                PaymentTransaction.gateway_transaction_id.is_not(None),
                or_(
                    PaymentTransaction.next_status_check_at <= now,
                    and_(
                        PaymentTransaction.next_status_check_at.is_(None),
                        PaymentTransaction.created_at < stale_before,
                    ),
                ),
                ~unresolved_create,
            )
            .order_by(PaymentTransaction.created_at)
            .limit(limit)
        )
        return list(result.scalars())
