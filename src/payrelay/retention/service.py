"""Retention inside one transaction: monthly partitions of payment_logs, moving a batch of old
finished payments into the archive tables, and finding a payment wherever it lives.
Never commits (retention/tasks.py and the CLI own the transactions)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from payrelay.audit import service as audit_service
from payrelay.exceptions import BadRequest, Conflict
from payrelay.kit.db import AsyncSession
from payrelay.models import ARCHIVES, Merchant
from payrelay.payment.errors import PaymentNotFound
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.retention.repository import ArchiveRepository, PartitionRepository, partition_name

ACTOR = "operator"


class ArchiveDateInvalid(BadRequest):
    code = "archive_date_invalid"


class PaymentArchived(Conflict):
    """A command on a payment that was archived: archived payments never change again."""

    code = "payment_archived"


@dataclass(frozen=True, slots=True)
class Batch:
    """One archiving transaction: the payments moved, the rows moved per table, and where the
    next batch starts (None: nothing eligible was left)."""

    payments: list[uuid.UUID]
    rows: dict[str, int] = field(default_factory=dict)
    cursor: tuple[datetime, uuid.UUID] | None = None


@dataclass(frozen=True, slots=True)
class FoundPayment:
    row: PaymentRow
    archived: bool


# --- partitions ------------------------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def months_from(moment: datetime, ahead: int) -> list[tuple[datetime, datetime]]:
    """[start, end) of the month of `moment` and of the `ahead` months after it (UTC)."""
    months, start = [], month_start(moment)
    for _ in range(ahead + 1):
        end = next_month(start)
        months.append((start, end))
        start = end
    return months


async def missing_partitions(
    session: AsyncSession, months: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    existing = await PartitionRepository(session).existing()
    return [(start, end) for start, end in months if partition_name(start) not in existing]


async def create_partition(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Create one month's partition; the number of rows it took over from DEFAULT."""
    return await PartitionRepository(session).create(start, end)


# --- archiving -------------------------------------------------------------------------------


def parse_before(value: str, *, now: datetime, min_age: timedelta) -> datetime:
    """`--before`: a date (midnight UTC) or an ISO 8601 time (UTC when it has no offset), at
    least `min_age` in the past."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            before = datetime.fromisoformat(value)
        except ValueError:
            raise ArchiveDateInvalid(
                f"--before must be a date (YYYY-MM-DD) or an ISO 8601 time, not {value!r}"
            ) from None
    else:
        before = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    if before > now:
        raise ArchiveDateInvalid(f"--before {value} is in the future")
    if before > now - min_age:
        raise ArchiveDateInvalid(
            f"--before must be at least {min_age.days} days ago (PAYRELAY_ARCHIVE_MIN_AGE):"
            f" payments after {(now - min_age).date().isoformat()} may still be refunded or"
            " disputed",
            details={"latest_allowed": (now - min_age).isoformat()},
        )
    return before


async def count_archivable(session: AsyncSession, before: datetime) -> tuple[int, dict[str, int]]:
    """What archiving everything eligible now would move: payments, and rows per table."""
    repository = ArchiveRepository(session)
    return await repository.count_eligible(before), await repository.count_rows(before)


async def archive_batch(
    session: AsyncSession,
    *,
    before: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Batch:
    """Move up to `limit` eligible payments created after `after` (oldest first), with all
    their rows, into the archive tables, and audit it. All or nothing with the transaction."""
    repository = ArchiveRepository(session)
    candidates = await repository.lock_next(before, after, limit)
    if not candidates:
        return Batch(payments=[])
    payment_ids = await repository.confirm([payment_id for payment_id, _ in candidates], before)
    rows = dict.fromkeys(ARCHIVES, 0)
    if payment_ids:
        await repository.allow_log_deletes()
        await repository.audit_archived(payment_ids, before)
        await repository.unlink_idempotency_keys(payment_ids)
        for name in ARCHIVES:
            rows[name] = await repository.move(name, payment_ids)
        await audit_service.record(
            session,
            event_type="archive.batch",
            actor=ACTOR,
            merchant_id=None,
            data={"before": before.isoformat(), "payments": len(payment_ids), "rows": rows},
        )
    last_id, last_created = candidates[-1]
    return Batch(payments=payment_ids, rows=rows, cursor=(last_created, last_id))


# --- reading ---------------------------------------------------------------------------------


async def find_payment(
    session: AsyncSession, merchant: Merchant, payment_id: uuid.UUID
) -> FoundPayment:
    """The payment, live or archived."""
    live = await PaymentRepository(session).get(merchant.id, payment_id)
    if live is not None:
        return FoundPayment(row=live, archived=False)
    archived = await ArchiveRepository(session).get_payment(merchant.id, payment_id)
    if archived is None:
        raise PaymentNotFound("payment not found")
    return FoundPayment(row=archived, archived=True)


async def refuse_if_archived(
    session: AsyncSession, merchant: Merchant, payment_id: uuid.UUID
) -> None:
    if await ArchiveRepository(session).is_archived(merchant.id, payment_id):
        raise PaymentArchived(
            "this payment is archived and can no longer change",
            details={"payment_id": str(payment_id)},
        )
