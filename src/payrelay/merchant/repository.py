from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from payrelay.enums import MerchantStatus
from payrelay.kit.db import AsyncSession
from payrelay.models import ApiKey, Merchant


class MerchantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, merchant: Merchant, api_key: ApiKey) -> None:
        self.session.add(merchant)
        await self.session.flush()
        self.session.add(api_key)
        await self.session.flush()

    async def get(self, merchant_id: uuid.UUID) -> Merchant | None:
        return await self.session.get(Merchant, merchant_id)

    async def find_by_api_key_hash(self, key_hash: str) -> tuple[Merchant, ApiKey] | None:
        result = await self.session.execute(
            select(Merchant, ApiKey)
            .join(ApiKey, ApiKey.merchant_id == Merchant.id)
            .where(
                ApiKey.key_hash == key_hash,
                ApiKey.revoked_at.is_(None),
                Merchant.status == MerchantStatus.ACTIVE.value,
            )
        )
        row = result.one_or_none()
        return None if row is None else (row[0], row[1])

    async def touch_api_key(
        self, api_key_id: uuid.UUID, now: datetime, stale_before: datetime
    ) -> None:
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == api_key_id,
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < stale_before),
            )
            .values(last_used_at=now)
        )
