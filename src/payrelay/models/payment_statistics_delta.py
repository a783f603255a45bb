from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Identity, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model
from payrelay.models.payment_statistics import DailyCounters


class PaymentStatisticsDelta(DailyCounters, Model):
    """What one counted event adds to a `payment_statistics` row, until the worker folds it in.

    Every payment transaction appends here instead of updating the day's row, so concurrent
    payments of one merchant never queue on that row's lock. The fold moves deltas into the
    rows in one statement (delete and upsert together); readers sum the row and the deltas not
    yet folded, so a report is exact at every moment. No foreign key: the row is short-lived
    and written on the hot path; `merchant_id` comes from the payment itself.
    """

    __tablename__ = "payment_statistics_deltas"
    __table_args__ = (
        # The merchant's report adds the deltas of its days: one narrow range scan.
        Index("ix_payment_statistics_deltas_merchant_id_date", "merchant_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    date: Mapped[date] = mapped_column(Date)
    merchant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    gateway_name: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
