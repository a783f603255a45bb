from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import EscrowStatus, sql_in
from payrelay.models.base import Model


class EscrowPayment(Model):
    """The seller's share of a captured marketplace payment, held until delivery."""

    __tablename__ = "escrow_payments"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(EscrowStatus)})", name="status_valid"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="refunded_range"
        ),
        Index("ix_escrow_payments_seller_status", "merchant_id", "seller_id", "status"),
        Index(
            "ix_escrow_payments_release_due",
            "release_after",
            postgresql_where=text("status = 'held'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_transaction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("payment_transactions.id"), unique=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    seller_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    status: Mapped[str] = mapped_column(String(20), server_default=EscrowStatus.HELD.value)
    release_after: Mapped[datetime]
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
