from __future__ import annotations

import uuid

from sqlalchemy import select

from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentGateway


class GatewayAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> PaymentGateway | None:
        return await self.session.get(PaymentGateway, account_id)

    async def find(self, merchant_id: uuid.UUID, code: str) -> PaymentGateway | None:
        result = await self.session.execute(
            select(PaymentGateway).where(
                PaymentGateway.merchant_id == merchant_id, PaymentGateway.code == code
            )
        )
        return result.scalar_one_or_none()

    async def add(self, account: PaymentGateway) -> None:
        self.session.add(account)
        await self.session.flush()
