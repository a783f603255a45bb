"""The seller's share of marketplace payments, held in escrow until delivery."""

from __future__ import annotations

from datetime import datetime

from payrelay.kit.db import AsyncSession
from payrelay.payment.repository import PaymentRow
from payrelay.payment.state import Ledger


async def follow_ledger(
    session: AsyncSession,
    row: PaymentRow,
    before: Ledger,
    after: Ledger,
    *,
    now: datetime,
    actor: str,
) -> None:
    """Keep a marketplace payment's escrow in step with a change of its money, in the caller's
    transaction; sets `row.escrow` so the callback and the answer show it."""
