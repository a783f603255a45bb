from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, union_all
from sqlalchemy.orm import aliased

from payrelay.kit.db import AsyncSession
from payrelay.models import ARCHIVES, PaymentLog


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, **values: Any) -> None:
        await self.session.execute(insert(PaymentLog).values(**values))

    async def list_for_payment(
        self, payment_request_id: uuid.UUID, limit: int
    ) -> Sequence[PaymentLog]:
        """The payment's trail, live or archived: one statement, so a payment archived meanwhile
        is seen whole on one side or the other."""
        live, archived = PaymentLog.__table__, ARCHIVES["payment_logs"]
        both = union_all(
            select(live).where(live.c.payment_request_id == payment_request_id),
            select(archived).where(archived.c.payment_request_id == payment_request_id),
        ).subquery()
        log = aliased(PaymentLog, both, adapt_on_names=True)
        result = await self.session.execute(select(log).order_by(log.id).limit(limit))
        return result.scalars().all()
