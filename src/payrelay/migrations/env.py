"""Alembic environment: async engine, URL from the caller or from payrelay's settings."""

from __future__ import annotations

import asyncio
import re

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from payrelay.kit.db import async_url
from payrelay.models import Model

target_metadata = Model.metadata

# payment_logs' monthly partitions are made by the worker, not modelled (docs/operations.md).
PARTITION = re.compile(r"^payment_logs_(p[0-9]{6}|default)$")


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name is not None and PARTITION.match(name))


def _database_url() -> str:
    url = context.config.attributes.get("database_url")
    if url:
        return str(url)
    # Plain `alembic ...` from a shell: use payrelay's own resolution (embedded if no URL).
    from payrelay.database import resolve_database_url

    return resolve_database_url().url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_name=_include_name,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(async_url(_database_url()))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
