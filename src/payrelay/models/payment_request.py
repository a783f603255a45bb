from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import RequestStatus, sql_in
from payrelay.models.base import Model


class PaymentRequest(Model):
    """The merchant's idempotent request to be paid for an order: the payment as it sees it.

    `payment_method` keeps the shop document's meaning (the gateway code the shop asked for);
    how the customer pays (card, wallet, ...) is `payment_transactions.payment_method`.
    """

    __tablename__ = "payment_requests"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"status IN ({sql_in(RequestStatus)})", name="status_valid"),
        Index("ix_payment_requests_order_id", "order_id"),
        Index("ix_payment_requests_status", "status"),
        Index("ix_payment_requests_created_at", "created_at"),
        Index("ix_payment_requests_merchant_created", "merchant_id", "created_at", "id"),
        Index("ix_payment_requests_merchant_order", "merchant_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(CHAR(64))
    order_id: Mapped[str] = mapped_column(String(255))
    payment_method: Mapped[str] = mapped_column(String(50))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), server_default=RequestStatus.PENDING.value)
    gateway_data: Mapped[dict[str, Any] | None]
    response_data: Mapped[dict[str, Any] | None]
    callback_url: Mapped[str | None] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
