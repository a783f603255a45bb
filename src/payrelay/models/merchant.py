from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Numeric, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.enums import MerchantStatus, sql_in
from payrelay.models.base import Model


class Merchant(Model):
    """(+) A merchant: the application payrelay takes payments for."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(
            "commission_rate >= 0 AND commission_rate < 1", name="commission_rate_range"
        ),
        CheckConstraint(f"status IN ({sql_in(MerchantStatus)})", name="status_valid"),
        CheckConstraint(
            "escrow_hold_days >= 0 AND escrow_hold_days <= 365", name="escrow_hold_days_range"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_secret: Mapped[str] = mapped_column(String(255))
    previous_callback_secret: Mapped[str | None] = mapped_column(String(255))
    previous_callback_secret_expires_at: Mapped[datetime | None]
    commission_rate: Mapped[Decimal] = mapped_column(Numeric(7, 6), server_default=text("0.05"))
    status: Mapped[str] = mapped_column(String(20), server_default=MerchantStatus.ACTIVE.value)
    # How long a marketplace payment's seller share is held after capture before the worker
    # releases it on its own (the merchant may release it earlier, on delivery).
    escrow_hold_days: Mapped[int] = mapped_column(server_default=text("14"))
    # IANA time zone of the merchant's daily statistics (a statistics "day").
    reporting_timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    # Set when the endpoint answered 410 Gone: callbacks wait until it is re-enabled.
    callback_url_disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
