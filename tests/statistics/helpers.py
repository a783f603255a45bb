"""Reading the statistics rows behind a merchant, what a payment should add to them, and the
command line."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from payrelay.statistics import tasks as statistics_tasks

COUNTERS = (
    "total_requests",
    "successful_payments",
    "failed_payments",
    "total_amount",
    "successful_amount",
    "refunded_amount",
    "commission_amount",
    "processing_time_total",
    "processing_time_count",
    "average_processing_time",
)

RowKey = tuple[date, str, str]


async def fold(db: Database) -> int:
    """Fold the pending deltas into the rows now, as the worker does about once a second."""
    return await statistics_tasks.fold_pending(db, lambda: datetime.now(UTC))


async def stored(db: Database, merchant_id: uuid.UUID) -> dict[RowKey, dict[str, Any]]:
    """The merchant's statistics rows by (date, gateway, currency), pending deltas folded."""
    await fold(db)
    async with db.session() as session:
        result = await session.execute(
            text(
                f"SELECT date, gateway_name, currency, {', '.join(COUNTERS)} "
                "FROM payment_statistics WHERE merchant_id = :merchant_id"
            ),
            {"merchant_id": merchant_id},
        )
        return {
            (row["date"], row["gateway_name"], row["currency"]): {
                name: row[name] for name in COUNTERS
            }
            for row in result.mappings()
        }


async def only_row(db: Database, merchant_id: uuid.UUID) -> tuple[RowKey, dict[str, Any]]:
    rows = await stored(db, merchant_id)
    assert len(rows) == 1, rows
    ((key, counters),) = rows.items()
    return key, counters


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds_between(payment: dict[str, Any], start: str, end: str) -> int:
    """Whole seconds between two of the payment's timestamps, rounded down."""
    return (moment(payment[end]) - moment(payment[start])) // timedelta(seconds=1)


def day_of(payment: dict[str, Any], timezone: str = "UTC") -> date:
    return moment(payment["created_at"]).astimezone(ZoneInfo(timezone)).date()


def counters(**values: Any) -> dict[str, Any]:
    """A full row of counters: zero unless given, amounts as Decimal."""
    row: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    row.update(values)
    for name in ("total_amount", "successful_amount", "refunded_amount", "commission_amount"):
        row[name] = Decimal(row[name])
    total, count = row["processing_time_total"], row["processing_time_count"]
    row["average_processing_time"] = total // count if count else 0
    return row


def add(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two rows of counters added up, the average recomputed."""
    row = {name: first[name] + second[name] for name in COUNTERS}
    total, count = row["processing_time_total"], row["processing_time_count"]
    row["average_processing_time"] = total // count if count else 0
    return row


async def set_timezone(db: Database, merchant_id: uuid.UUID, timezone: str) -> None:
    async with db.transaction() as session:
        await merchant_service.update_settings(session, merchant_id, reporting_timezone=timezone)


async def table_count(db: Database) -> int:
    await fold(db)
    async with db.session() as session:
        result = await session.execute(text("SELECT count(*) FROM payment_statistics"))
        return int(result.scalar_one())
