from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from payrelay.kit.db import AsyncSession
from payrelay.models import IdempotencyKey


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_if_absent(self, values: dict[str, Any]) -> IdempotencyKey | None:
        """The new row, or None when the merchant already used the key (the row is then
        committed by someone else: the unique index waits for their transaction)."""
        result = await self.session.execute(
            insert(IdempotencyKey)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
            .returning(IdempotencyKey)
        )
        return result.scalar_one_or_none()

    async def lock(self, merchant_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        result = await self.session.execute(
            select(IdempotencyKey)
            .where(IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key)
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def update(self, key_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(IdempotencyKey).where(IdempotencyKey.id == key_id).values(**values)
        )

    async def delete(self, key_id: uuid.UUID) -> None:
        await self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))

    async def get(self, key_id: uuid.UUID) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, key_id)

    async def lock_by_id(self, key_id: uuid.UUID) -> IdempotencyKey | None:
        result = await self.session.execute(
            select(IdempotencyKey).where(IdempotencyKey.id == key_id).with_for_update()
        )
        return result.scalar_one_or_none()
