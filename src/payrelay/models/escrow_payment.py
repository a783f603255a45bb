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
    """The split of a marketplace payment's money and the seller's share held until delivery.

    `amount` is the seller's share now, `commission_amount` the marketplace's, `refunded_amount`
    what the customer got back; together they are the captured amount (the split of the money
    kept is `kit.money.commission_of_net`). `released_amount` is what was paid out at release;
    `seller_debt` what the seller owes back after refunds made since.
    """

    __tablename__ = "escrow_payments"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(EscrowStatus)})", name="status_valid"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "commission_amount >= 0 AND refunded_amount >= 0 "
            "AND amount + commission_amount + refunded_amount = captured_amount",
            name="split",
        ),
        CheckConstraint(
            "(captured_amount > 0) = (release_after IS NOT NULL)", name="release_after"
        ),
        CheckConstraint("(released_amount IS NULL) = (released_at IS NULL)", name="released_pair"),
        CheckConstraint(
            "seller_debt = CASE WHEN released_amount IS NULL THEN 0 "
            "ELSE released_amount - amount END AND seller_debt >= 0",
            name="seller_debt",
        ),
        CheckConstraint(
            "CASE status WHEN 'held' THEN released_amount IS NULL "
            "WHEN 'cancelled' THEN released_amount IS NULL AND captured_amount = 0 "
            "WHEN 'released' THEN released_amount IS NOT NULL AND seller_debt = 0 "
            "ELSE true END",
            name="status_amounts",
        ),
        Index("ix_escrow_payments_seller_status", "merchant_id", "seller_id", "status"),
        Index("ix_escrow_payments_merchant_created", "merchant_id", "created_at", "id"),
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
    # Set at capture (captured_at + the merchant's hold); none while only authorized.
    release_after: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    captured_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    commission_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    released_amount: Mapped[Decimal | None]
    seller_debt: Mapped[Decimal] = mapped_column(server_default=text("0"))
