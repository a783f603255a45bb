"""Retention jobs, each owning its transactions: keeping payment_logs' monthly partitions created
ahead of time (a periodic worker job), and archiving old payments batch by batch (run by
`payrelay archive`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from payrelay.config import Settings
from payrelay.kit.db import Database
from payrelay.logging import get_logger
from payrelay.models import ARCHIVES
from payrelay.retention import service as retention_service
from payrelay.retention.repository import partition_name

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ArchiveRun:
    before: datetime
    dry_run: bool
    payments: int
    batches: int
    rows: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "before": self.before.isoformat(),
            "dry_run": self.dry_run,
            "payments": self.payments,
            "batches": self.batches,
            "rows": self.rows,
        }


async def maintain_partitions(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Callable[[], datetime]
) -> int:
    """Create the partitions of this month and the next `partitions_ahead_months` that do not
    exist yet; the number created. One catalog read when there is nothing to do."""
    months = retention_service.months_from(clock(), settings.partitions_ahead_months)
    async with db.session() as session:
        missing = await retention_service.missing_partitions(session, months)
    for start, end in missing:
        async with db.transaction() as session:
            rehomed = await retention_service.create_partition(session, start, end)
        log.info("retention.partition_created", partition=partition_name(start), rehomed=rehomed)
    return len(missing)


async def count_archivable(db: Database, before: datetime) -> ArchiveRun:
    """`--dry-run`: what would move, read in one snapshot; nothing is changed."""
    async with db.session() as session:
        payments, rows = await retention_service.count_archivable(session, before)
    return ArchiveRun(before=before, dry_run=True, payments=payments, batches=0, rows=rows)


async def archive_payments(
    db: Database,
    *,
    before: datetime,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> ArchiveRun:
    """Archive every eligible payment, one committed batch at a time (oldest first). A crash
    rolls back only the batch in flight; running again carries on where it stopped."""
    rows = dict.fromkeys(ARCHIVES, 0)
    payments = batches = 0
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with db.transaction() as session:
            batch = await retention_service.archive_batch(
                session,
                before=before,
                after=after,
                limit=batch_size,
            )
        if batch.cursor is None:
            break
        after = batch.cursor
        if batch.payments:
            batches += 1
            payments += len(batch.payments)
            for name, count in batch.rows.items():
                rows[name] += count
            log.info("retention.archived", payments=len(batch.payments), rows=batch.rows)
        if on_batch is not None:
            on_batch(len(batch.payments))
    return ArchiveRun(before=before, dry_run=False, payments=payments, batches=batches, rows=rows)
