from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

# Counters that only ever grow. `commission_amount` is not among them: a refund lowers it, and
# after a merchant changes its time zone a refund can land on a day that never saw the capture
# (until `payrelay stats rebuild` restates history), which must not make the refund fail.
NON_NEGATIVE = (
    "total_requests",
    "successful_payments",
    "failed_payments",
    "total_amount",
    "successful_amount",
    "refunded_amount",
    "processing_time_total",
    "processing_time_count",
)


class DailyCounters:
    """The counters of a statistics row, shared by the rows and the deltas folded into them."""

    total_requests: Mapped[int] = mapped_column(server_default=text("0"))
    successful_payments: Mapped[int] = mapped_column(server_default=text("0"))
    failed_payments: Mapped[int] = mapped_column(server_default=text("0"))
    total_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    successful_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    commission_amount: Mapped[Decimal] = mapped_column(server_default=text("0"))
    processing_time_total: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    processing_time_count: Mapped[int] = mapped_column(server_default=text("0"))


class PaymentStatistics(DailyCounters, Model):
    """Daily counters per (date, merchant, gateway, currency); amounts never mix currencies.

    `date` is the payment's creation day in the merchant's reporting time zone. The average
    processing time is kept exact from its total and count, in the same statement.
    """

    __tablename__ = "payment_statistics"
    __table_args__ = (
        UniqueConstraint("date", "merchant_id", "gateway_name", "currency"),
        CheckConstraint(
            " AND ".join(f"{column} >= 0" for column in NON_NEGATIVE),
            name="counters_non_negative",
        ),
        CheckConstraint(
            "average_processing_time = CASE WHEN processing_time_count = 0 THEN 0 "
            "ELSE processing_time_total / processing_time_count END",
            name="average_processing_time_exact",
        ),
        Index("ix_payment_statistics_date", "date"),
        Index("ix_payment_statistics_gateway_name", "gateway_name"),
        Index("ix_payment_statistics_created_at", "created_at"),
        # The merchant's report: one narrow range scan per (merchant, date range).
        Index("ix_payment_statistics_merchant_id_date", "merchant_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    date: Mapped[date] = mapped_column(Date)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    gateway_name: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    average_processing_time: Mapped[int] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
