from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import OperationKind, OperationStatus, sql_in
from payrelay.models.base import Model


class PaymentOperation(Model):
    """(+) One create, capture, void or refund sent to a gateway.

    The row is committed before the gateway is called; the idempotency key sent to the gateway
    is derived from its id, so a resend after a crash can never charge twice. Pending and unknown
    rows reserve their amount.
    """

    __tablename__ = "payment_operations"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(OperationKind)})", name="kind_valid"),
        CheckConstraint(f"status IN ({sql_in(OperationStatus)})", name="status_valid"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        Index("ix_payment_operations_transaction_id", "payment_transaction_id"),
        Index(
            "ix_payment_operations_unresolved",
            "next_check_at",
            postgresql_where=text("status IN ('pending', 'unknown')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    payment_transaction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("payment_transactions.id")
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal | None]
    status: Mapped[str] = mapped_column(String(20), server_default=OperationStatus.PENDING.value)
    gateway_operation_id: Mapped[str | None] = mapped_column(String(255))
    gateway_idempotency_key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_check_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]
