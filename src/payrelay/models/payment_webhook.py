from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import WebhookStatus, sql_in
from payrelay.models.base import Model


class PaymentWebhook(Model):
    """The inbox: every webhook a gateway sent, stored raw before it is verified or processed."""

    __tablename__ = "payment_webhooks"
    __table_args__ = (
        UniqueConstraint("gateway_account_id", "webhook_id"),
        CheckConstraint(f"status IN ({sql_in(WebhookStatus)})", name="status_valid"),
        Index("ix_payment_webhooks_payment_request_id", "payment_request_id"),
        Index("ix_payment_webhooks_gateway_name", "gateway_name"),
        Index("ix_payment_webhooks_webhook_id", "webhook_id"),
        Index("ix_payment_webhooks_status", "status"),
        Index("ix_payment_webhooks_created_at", "created_at"),
        Index(
            "ix_payment_webhooks_pending",
            "id",
            postgresql_where=text("status IN ('received', 'failed')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_requests.id"))
    gateway_account_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("payment_gateways.id")
    )
    gateway_name: Mapped[str] = mapped_column(String(32))
    webhook_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any] | None]
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]]
    signature: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default=WebhookStatus.RECEIVED.value)
    retry_count: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
