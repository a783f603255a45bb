from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from payrelay.enums import CallbackStatus, MerchantStatus
from payrelay.kit.db import AsyncSession
from payrelay.models import ApiKey, Merchant, PaymentCallback


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

    async def lock(self, merchant_id: uuid.UUID) -> Merchant | None:
        result = await self.session.execute(
            select(Merchant).where(Merchant.id == merchant_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def resume_held_callbacks(self, merchant_id: uuid.UUID, now: datetime) -> int:
        """Callbacks held while the URL was disabled (failed, unscheduled) become due."""
        result = await self.session.execute(
            update(PaymentCallback)
            .where(
                PaymentCallback.merchant_id == merchant_id,
                PaymentCallback.status == CallbackStatus.FAILED.value,
                PaymentCallback.next_retry_at.is_(None),
            )
            .values(next_retry_at=now, updated_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

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
