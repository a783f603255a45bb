from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import CallbackStatus, sql_in
from payrelay.models.base import Model


class PaymentCallback(Model):
    """The outbox: one signed callback to the merchant, retried until delivered or dead."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(CallbackStatus)})", name="status_valid"),
        Index("ix_payment_callbacks_payment_request_id", "payment_request_id"),
        Index("ix_payment_callbacks_status", "status"),
        Index("ix_payment_callbacks_next_retry_at", "next_retry_at"),
        Index("ix_payment_callbacks_created_at", "created_at"),
        Index("ix_payment_callbacks_merchant_id", "merchant_id", "status"),
        Index(
            "ix_payment_callbacks_due",
            "next_retry_at",
            postgresql_where=text("status IN ('pending', 'failed', 'delivering')"),
        ),
        UniqueConstraint("payment_request_id", "sequence"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_requests.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int]
    callback_url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    signature: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default=CallbackStatus.PENDING.value)
    response_status: Mapped[int | None]
    retry_count: Mapped[int] = mapped_column(server_default=text("0"))
    next_retry_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
