"""Daily statistics per (date, merchant, gateway, currency), kept in the same transaction as
each counted event."""

from __future__ import annotations

from datetime import datetime

from payrelay.kit.db import AsyncSession
from payrelay.payment.repository import PaymentRow
from payrelay.payment.state import Ledger


async def count_created(session: AsyncSession, row: PaymentRow, *, now: datetime) -> None:
    """Count a new payment attempt."""


async def follow_ledger(
    session: AsyncSession, row: PaymentRow, before: Ledger, after: Ledger, *, now: datetime
) -> None:
    """Count a change of a payment's money or status."""
