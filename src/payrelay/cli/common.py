"""What every command shares: failing clearly, and reaching the database (the embedded one is
started and migrated on the way)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer

from payrelay.config import Settings
from payrelay.database import ResolvedDatabase, open_database, resolve_database_url
from payrelay.kit import migrate
from payrelay.kit.db import AsyncSession, Database
from payrelay.logging import configure_logging

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def fail(message: str, *, as_json: bool, code: str = "error", exit_code: int = 1) -> NoReturn:
    """Print the error (as `{"error": {...}}` with `--json`) on stderr and exit."""
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message}}), err=True)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


def database(settings: Settings) -> ResolvedDatabase:
    """The database, migrated when it is our own embedded one; close it when done."""
    resolved = resolve_database_url(settings)
    if resolved.embedded is not None:
        migrate.upgrade(resolved.url)
    return resolved


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the database. Logs go to stderr: stdout carries only the output."""
    configure_logging(settings.log_level, json=settings.log_json)
    resolved = database(settings)

    async def run() -> T:
        db = open_database(resolved.url, settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    finally:
        resolved.close()


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction, committed when it returns."""

    async def transaction(db: Database) -> T:
        async with db.transaction() as session:
            return await work(session)

    return with_database(settings, transaction)


def merchant_id(value: str, *, as_json: bool) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"a merchant id is a UUID, not {value!r}", as_json=as_json, exit_code=2)
