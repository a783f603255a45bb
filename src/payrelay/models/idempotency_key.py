from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import IdempotencyState, RecoveryPoint, sql_in
from payrelay.models.base import Model


class IdempotencyKey(Model):
    """(+) A merchant's `Idempotency-Key`, its request fingerprint, a lease while the request
    runs, how far it got (`recovery_point`) and the response to replay once it finished."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key"),
        CheckConstraint(f"state IN ({sql_in(IdempotencyState)})", name="state_valid"),
        CheckConstraint(
            f"recovery_point IN ({sql_in(RecoveryPoint)})", name="recovery_point_valid"
        ),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
        # Keys stay live while their payments and operations are archived: deleting those rows
        # checks these foreign keys, and archiving looks for keys still in progress. Without
        # these indexes each would read idempotency_keys whole, once per row.
        Index("ix_idempotency_keys_payment_request_id", "payment_request_id"),
        Index("ix_idempotency_keys_operation_id", "operation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_method: Mapped[str] = mapped_column(String(10))
    request_path: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(CHAR(64))
    state: Mapped[str] = mapped_column(String(20))
    recovery_point: Mapped[str] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_requests.id"))
    operation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_operations.id"))
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]
