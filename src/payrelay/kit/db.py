"""Engine and session factory. Edges open transactions with `Database.transaction()`;
services and repositories only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["AsyncSession", "Database", "DatabaseOptions", "async_url", "sync_libpq_url"]


def async_url(url: str) -> URL:
    """The SQLAlchemy asyncpg URL for any postgres URL (`postgres://`, `postgresql://`, ...)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def sync_libpq_url(url: str) -> str:
    """A plain `postgresql://` URL (what asyncpg.connect and psql understand)."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    pool_size: int = 10
    max_overflow: int = 10
    statement_timeout_ms: int = 30_000
    idle_in_transaction_timeout_ms: int = 60_000
    application_name: str = "payrelay"
    pre_ping: bool = False


class Database:
    def __init__(self, url: str, options: DatabaseOptions | None = None) -> None:
        options = options or DatabaseOptions()
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_pre_ping=options.pre_ping,
            connect_args={
                "server_settings": {
                    "application_name": options.application_name,
                    "statement_timeout": str(options.statement_timeout_ms),
                    "idle_in_transaction_session_timeout": str(
                        options.idle_in_transaction_timeout_ms
                    ),
                    "timezone": "UTC",
                },
            },
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; nothing it does is committed."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
