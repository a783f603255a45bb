"""The statistics rebuild: one day per transaction, safe beside live traffic."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.exc import DBAPIError

from payrelay.kit.db import Database
from payrelay.logging import get_logger
from payrelay.merchant import service as merchant_service
from payrelay.statistics.rebuild import DayResult, rebuild_day, rebuild_period
from payrelay.statistics.repository import StatisticsRepository
from payrelay.statistics.service import Period

log = get_logger(__name__)

Clock = Callable[[], datetime]
MAX_ATTEMPTS = 5
RETRYABLE = frozenset({"40001", "40P01"})  # serialization failure, deadlock


async def fold_pending(db: Database, clock: Clock, *, batch: int = 5000) -> int:
    """Fold every pending statistics delta into its row, a bounded batch per transaction;
    return how many were folded. Any number of processes may run it at once."""
    folded = 0
    while True:
        async with db.transaction() as session:
            moved = await StatisticsRepository(session).fold(clock(), limit=batch)
        folded += moved.deltas
        if moved.deltas < batch:
            return folded


async def plan_rebuild(
    db: Database, merchant_id: uuid.UUID | None, *, first: date | None, last: date | None
) -> Period | None:
    """The days a rebuild covers (see `rebuild_period`); None when there is nothing."""
    async with db.session() as session:
        if (
            merchant_id is not None
            and await merchant_service.get_merchant(session, merchant_id) is None
        ):
            raise merchant_service.MerchantNotFound(f"no merchant {merchant_id}")
        return await rebuild_period(session, merchant_id, first=first, last=last)


async def rebuild(
    db: Database,
    period: Period,
    *,
    merchant_id: uuid.UUID | None,
    fix: bool,
    clock: Clock,
    on_day: Callable[[DayResult], None] | None = None,
) -> list[DayResult]:
    """Compare (and with `fix`, correct) every day of `period`, oldest first."""
    results = []
    for day in period.dates():
        result = await _rebuild_day(db, day, merchant_id=merchant_id, fix=fix, clock=clock)
        if result.differences:
            log.warning(
                "statistics.differences",
                day=day.isoformat(),
                differences=len(result.differences),
                fixed=fix,
            )
        results.append(result)
        if on_day is not None:
            on_day(result)
    return results


async def _rebuild_day(
    db: Database, day: date, *, merchant_id: uuid.UUID | None, fix: bool, clock: Clock
) -> DayResult:
    """One snapshot for the payments and the stored rows (REPEATABLE READ): a counted event
    committed meanwhile makes a correction fail with a serialization error, and the day is
    done again, instead of the correction overwriting the event."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with db.transaction() as session:
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                return await rebuild_day(
                    session, day, merchant_id=merchant_id, fix=fix, now=clock()
                )
        except DBAPIError as exc:
            if attempt == MAX_ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in RETRYABLE:
                raise
            log.info("statistics.rebuild_retry", day=day.isoformat(), attempt=attempt)
    raise AssertionError("unreachable")
