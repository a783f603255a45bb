from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class SandboxTransaction(Model):
    """(+) The built-in sandbox gateway's own ledger: what the "gateway" knows about a payment.

    It is kept apart from payrelay's tables on purpose: the sandbox is a gateway like any other,
    reached over HTTP through its connector, so its books can disagree with ours (a lost
    notification) and the status query has something real to ask.
    """

    __tablename__ = "sandbox_transactions"
    __table_args__ = (
        UniqueConstraint("account_id", "create_idempotency_key"),
        UniqueConstraint("payment_reference"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("payment_gateways.id"))
    create_idempotency_key: Mapped[str] = mapped_column(String(255))
    payment_reference: Mapped[uuid.UUID]
    order_reference: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    capture_method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    captured_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    description: Mapped[str | None] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(Text)
    notify_url: Mapped[str] = mapped_column(Text)
    operations: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
