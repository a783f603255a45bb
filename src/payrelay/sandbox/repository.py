from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from payrelay.kit.db import AsyncSession
from payrelay.models import SandboxTransaction


class SandboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_if_absent(self, values: dict[str, Any]) -> SandboxTransaction | None:
        result = await self.session.execute(
            insert(SandboxTransaction)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(SandboxTransaction)
        )
        return result.scalar_one_or_none()

    async def find_by_create_key(self, account_id: int, key: str) -> SandboxTransaction | None:
        result = await self.session.execute(
            select(SandboxTransaction).where(
                SandboxTransaction.account_id == account_id,
                SandboxTransaction.create_idempotency_key == key,
            )
        )
        return result.scalar_one_or_none()

    async def get(self, account_id: int, transaction_id: str) -> SandboxTransaction | None:
        result = await self.session.execute(
            select(SandboxTransaction).where(
                SandboxTransaction.account_id == account_id,
                SandboxTransaction.id == transaction_id,
            )
        )
        return result.scalar_one_or_none()

    async def lock(self, account_id: int, transaction_id: str) -> SandboxTransaction | None:
        result = await self.session.execute(
            select(SandboxTransaction)
            .where(
                SandboxTransaction.account_id == account_id,
                SandboxTransaction.id == transaction_id,
            )
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def lock_by_reference(self, payment_reference: uuid.UUID) -> SandboxTransaction | None:
        result = await self.session.execute(
            select(SandboxTransaction)
            .where(SandboxTransaction.payment_reference == payment_reference)
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def get_by_reference(self, payment_reference: uuid.UUID) -> SandboxTransaction | None:
        result = await self.session.execute(
            select(SandboxTransaction).where(
                SandboxTransaction.payment_reference == payment_reference
            )
        )
        return result.scalar_one_or_none()
