from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import CaptureMethod, PaymentStatus, sql_in
from payrelay.models.base import Model

ACTIVE_STATUSES = "('pending', 'authorized')"


class PaymentTransaction(Model):
    """One attempt at one gateway, with the full money lifecycle (the marketplace document's
    table, plus the (+) columns of design §2).

    `user_id` and `listing_id` are the merchant's own ids: payrelay stores the references
    (indexed) but owns no users or listings, so they carry no foreign key.
    """

    __tablename__ = "payment_transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"status IN ({sql_in(PaymentStatus)})", name="status_valid"),
        CheckConstraint(
            f"capture_method IN ({sql_in(CaptureMethod)})", name="capture_method_valid"
        ),
        CheckConstraint(
            "authorized_amount >= 0 AND authorized_amount <= amount", name="authorized_range"
        ),
        CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= authorized_amount", name="captured_range"
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= captured_amount", name="refunded_range"
        ),
        CheckConstraint("received_amount >= 0", name="received_non_negative"),
        CheckConstraint(
            "marketplace_commission >= 0 AND seller_amount >= 0 "
            "AND marketplace_commission + seller_amount = amount",
            name="commission_split",
        ),
        Index("idx_payment_transactions_user_id", "user_id"),
        Index("idx_payment_transactions_listing_id", "listing_id"),
        Index("idx_payment_transactions_status", "status"),
        Index("idx_payment_transactions_gateway_transaction_id", "gateway_transaction_id"),
        Index("idx_payment_transactions_order_reference", "order_reference", unique=True),
        Index("idx_payment_transactions_created_at", "created_at"),
        Index("ix_payment_transactions_payment_request_id", "payment_request_id"),
        Index("ix_payment_transactions_merchant_id", "merchant_id", "created_at"),
        Index("ix_payment_transactions_gateway_id", "gateway_id"),
        # At most one active transaction per (merchant, user, listing): the marketplace rule.
        Index(
            "uq_payment_transactions_active_user_listing",
            "merchant_id",
            "user_id",
            "listing_id",
            unique=True,
            postgresql_where=text(
                f"status IN {ACTIVE_STATUSES} AND user_id IS NOT NULL AND listing_id IS NOT NULL"
            ),
        ),
        Index(
            "ix_payment_transactions_user_listing_recent",
            "merchant_id",
            "user_id",
            "listing_id",
            "created_at",
            postgresql_where=text("user_id IS NOT NULL AND listing_id IS NOT NULL"),
        ),
        Index(
            "ix_payment_transactions_expiring",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_payment_transactions_status_check",
            "next_status_check_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_payment_transactions_authorization_expiring",
            "authorization_expires_at",
            postgresql_where=text("status = 'authorized'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("payment_gateways.id"))
    user_id: Mapped[str | None] = mapped_column(String(64))
    listing_id: Mapped[str | None] = mapped_column(String(64))
    order_reference: Mapped[str] = mapped_column(String(255))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(255))
    gateway_reference_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), server_default="RSD")
    marketplace_commission: Mapped[Decimal]
    seller_amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(50), server_default=PaymentStatus.PENDING.value)
    gateway_status: Mapped[str | None] = mapped_column(String(50))
    payment_method: Mapped[str | None] = mapped_column(String(50))
    customer_email: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    gateway_response: Mapped[dict[str, Any] | None]
    error_details: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    authorized_at: Mapped[datetime | None]
    captured_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    # (+) design §2
    payment_request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_requests.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    capture_method: Mapped[str] = mapped_column(String(20))
    authorized_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    captured_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    # (+) money received by transfer (bank transfer gateways); may exceed `amount`
    received_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    voided_at: Mapped[datetime | None]
    authorization_expires_at: Mapped[datetime | None]
    seller_id: Mapped[str | None] = mapped_column(String(64))
    next_action: Mapped[dict[str, Any] | None]
    expires_at: Mapped[datetime]
    # (+) the janitor's status queries for a payment the gateway never reported on
    status_checks: Mapped[int] = mapped_column(server_default=text("0"))
    next_status_check_at: Mapped[datetime | None]
