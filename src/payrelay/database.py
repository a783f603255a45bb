"""Which Postgres payrelay uses: the configured server, or a private embedded one."""

from __future__ import annotations

from dataclasses import dataclass

from payrelay.config import Settings, get_settings
from payrelay.kit.db import Database, DatabaseOptions
from payrelay.kit.embedded import EmbeddedPostgres


@dataclass
class ResolvedDatabase:
    url: str
    embedded: EmbeddedPostgres | None

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def resolve_database_url(settings: Settings | None = None) -> ResolvedDatabase:
    """`PAYRELAY_DATABASE_URL` when set (never starts a server), else the embedded server."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return ResolvedDatabase(url=settings.database_url.get_secret_value(), embedded=None)
    embedded = EmbeddedPostgres(settings.home)
    return ResolvedDatabase(url=embedded.start(), embedded=embedded)


def open_database(url: str, settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return Database(
        url,
        DatabaseOptions(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            pre_ping=settings.db_pre_ping,
        ),
    )
