"""`payrelay archive`: moving old terminal payments into the archive tables."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from payrelay.cli import common
from payrelay.config import get_settings
from payrelay.database import open_database
from payrelay.exceptions import PayrelayError
from payrelay.retention import service as retention_service
from payrelay.retention import tasks as retention_tasks


def archive_command(
    before: Annotated[
        str,
        typer.Option(
            "--before",
            help="Archive payments finished and untouched since before this date "
            "(YYYY-MM-DD, midnight UTC) or ISO 8601 time.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would move; change nothing.")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Payments moved per transaction (default PAYRELAY_ARCHIVE_BATCH_SIZE).",
            min=1,
            max=10_000,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Move terminal payments older than a date, with their logs, operations, webhooks,
    callbacks and escrow, into the archive tables. Resumable: run it again after an
    interruption and it carries on."""
    settings = get_settings()
    try:
        cutoff = retention_service.parse_before(
            before, now=datetime.now(UTC), min_age=settings.archive_min_age
        )
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code, exit_code=2)
    size = batch_size or settings.archive_batch_size
    resolved = common.database(settings)

    async def run() -> retention_tasks.ArchiveRun:
        db = open_database(resolved.url, settings)
        try:
            planned = await retention_tasks.count_archivable(db, cutoff)
            if dry_run:
                return planned
            with typer.progressbar(
                length=planned.payments, label="archiving", file=sys.stderr
            ) as bar:
                return await retention_tasks.archive_payments(
                    db, before=cutoff, batch_size=size, on_batch=bar.update
                )
        finally:
            await db.dispose()

    try:
        result = asyncio.run(run())
    except DBAPIError as exc:
        common.fail(
            f"archiving stopped: {exc.orig}. Batches already committed stay archived;"
            " run the command again to carry on.",
            as_json=as_json,
            code="archive_interrupted",
        )
    finally:
        resolved.close()
    output = result.as_dict()
    if as_json:
        typer.echo(json.dumps(output))
        return
    for key, value in output.items():
        if isinstance(value, dict):
            for table, count in value.items():
                typer.echo(f"{key}.{table}: {count}")
        else:
            typer.echo(f"{key}: {value}")
