from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select

from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentLog


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, **values: Any) -> None:
        await self.session.execute(insert(PaymentLog).values(**values))

    async def list_for_payment(
        self, payment_request_id: uuid.UUID, limit: int
    ) -> Sequence[PaymentLog]:
        result = await self.session.execute(
            select(PaymentLog)
            .where(PaymentLog.payment_request_id == payment_request_id)
            .order_by(PaymentLog.id)
            .limit(limit)
        )
        return result.scalars().all()
