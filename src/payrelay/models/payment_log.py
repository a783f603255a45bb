from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class PaymentLog(Model):
    """The append-only audit trail. A trigger (see the migrations) refuses UPDATE, DELETE and
    TRUNCATE, so not even a bug or an operator with SQL can rewrite history; the one way a row
    leaves is `payrelay archive`, which moves it to `payment_logs_archive` (docs/operations.md).

    Range-partitioned by month on `created_at` (`payment_logs_pYYYYMM`, plus a DEFAULT partition
    as a safety net): a unique key on a partitioned table must contain the partition key, hence
    the primary key (id, created_at). `id` still comes from one identity sequence.
    """

    __tablename__ = "payment_logs"
    __table_args__ = (
        Index("ix_payment_logs_payment_request_id", "payment_request_id"),
        Index("ix_payment_logs_event_type", "event_type"),
        Index("ix_payment_logs_created_at", "created_at"),
        Index("ix_payment_logs_merchant_id", "merchant_id"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_requests.id"))
    payment_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchants.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    event_data: Mapped[dict[str, Any] | None]
    gateway_response: Mapped[dict[str, Any] | None]
    actor: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
