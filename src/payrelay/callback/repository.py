from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentCallback

CHANNEL = "payrelay_callbacks"


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_sequence(self, payment_request_id: uuid.UUID) -> int:
        """The payment's next callback number. Callers hold the payment's row lock, so two
        transactions never compute the same one."""
        result = await self.session.execute(
            select(func.coalesce(func.max(PaymentCallback.sequence), 0)).where(
                PaymentCallback.payment_request_id == payment_request_id
            )
        )
        return int(result.scalar_one()) + 1

    async def add(self, callback: PaymentCallback) -> None:
        self.session.add(callback)
        await self.session.flush()

    async def notify(self) -> None:
        """Wake idle workers when this transaction commits (Postgres folds duplicates)."""
        await self.session.execute(text(f"NOTIFY {CHANNEL}"))
