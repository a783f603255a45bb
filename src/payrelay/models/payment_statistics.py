from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class PaymentStatistics(Model):
    """Daily counters per (date, merchant, gateway, currency); amounts never mix currencies."""

    __tablename__ = "payment_statistics"
    __table_args__ = (
        UniqueConstraint("date", "merchant_id", "gateway_name", "currency"),
        Index("ix_payment_statistics_date", "date"),
        Index("ix_payment_statistics_gateway_name", "gateway_name"),
        Index("ix_payment_statistics_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    date: Mapped[date] = mapped_column(Date)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    gateway_name: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total_requests: Mapped[int] = mapped_column(server_default=text("0"))
    successful_payments: Mapped[int] = mapped_column(server_default=text("0"))
    failed_payments: Mapped[int] = mapped_column(server_default=text("0"))
    total_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    successful_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    commission_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    average_processing_time: Mapped[int] = mapped_column(server_default=text("0"))
    processing_time_total: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    processing_time_count: Mapped[int] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
