from __future__ import annotations

from sqlalchemy import text

from payrelay.kit.db import AsyncSession


async def applied_revisions(session: AsyncSession) -> frozenset[str]:
    """The Alembic revisions the database is at (none before the first migration)."""
    exists = await session.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return frozenset()
    result = await session.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(result.scalars())
