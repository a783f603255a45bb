"""Recomputing a day's statistics from the payments themselves, comparing them with the stored
rows and, unless only checking, correcting the stored rows (audited). One day at a time, in the
caller's transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from payrelay.audit import service as audit_service
from payrelay.kit.db import AsyncSession
from payrelay.kit.money import commission_of_net, format_amount
from payrelay.statistics.counters import COUNTER_FIELDS, Counters, Key
from payrelay.statistics.repository import DayBounds, Extent, StatisticsRepository
from payrelay.statistics.service import Period, ordered_period


@dataclass(frozen=True, slots=True)
class Difference:
    key: Key
    field: str
    stored: int | Decimal
    rebuilt: int | Decimal

    def shown(self, value: int | Decimal) -> str:
        """A count as is, an amount in its currency's digits."""
        if isinstance(value, Decimal):
            return format_amount(value, self.key.currency)
        return str(value)


@dataclass(frozen=True, slots=True)
class DayResult:
    day: date
    rows: int  # rows compared (stored or rebuilt)
    differences: list[Difference]


def day_bounds(day: date, timezones: list[str]) -> list[DayBounds]:
    """Where `day` starts and ends in each time zone, as instants."""
    bounds = []
    for name in timezones:
        zone = ZoneInfo(name)
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        bounds.append(DayBounds(timezone=name, start=start, end=end))
    return bounds


async def rebuild_period(
    session: AsyncSession,
    merchant_id: uuid.UUID | None,
    *,
    first: date | None,
    last: date | None,
) -> Period | None:
    """The days to rebuild: those given, less the days before the first and after the last day
    with payments or stored rows (nothing to compare there). None when nothing is left."""
    if first is not None and last is not None:
        ordered_period(first, last)  # a reversed range is refused, even without data
    repository = StatisticsRepository(session)
    known = _known_days(
        await repository.extent(merchant_id), await repository.timezones(merchant_id)
    )
    if not known:
        return None
    first = max(first, min(known)) if first is not None else min(known)
    last = min(last, max(known)) if last is not None else max(known)
    return Period(first, last) if first <= last else None


def _known_days(extent: Extent, timezones: list[str]) -> list[date]:
    days = [day for day in (extent.first_day, extent.last_day) if day is not None]
    for moment in (extent.first_created, extent.last_created):
        if moment is not None:
            days.extend(moment.astimezone(ZoneInfo(name)).date() for name in timezones)
    return days


async def rebuild_day(
    session: AsyncSession,
    day: date,
    *,
    merchant_id: uuid.UUID | None,
    fix: bool,
    now: datetime,
) -> DayResult:
    """Compare the stored rows of `day` with the rows rebuilt from the payments; with `fix`,
    make the stored rows equal to the rebuilt ones."""
    repository = StatisticsRepository(session)
    # Deltas of the day still pending join their rows first. Waiting for those another folder
    # holds (not skipping them) makes a concurrent fold a serialization error, and a retry.
    await repository.fold(now, day=day, merchant_id=merchant_id, skip_locked=False)
    timezones = await repository.timezones(merchant_id)
    rebuilt: dict[Key, Counters] = {}
    if timezones:
        bounds = day_bounds(day, timezones)
        rebuilt = await repository.rebuilt_day(day, bounds, merchant_id)
        for payment in await repository.partly_kept(day, bounds, merchant_id):
            # The money rule escrow uses, on the payment's final kept amount.
            split = commission_of_net(
                payment.kept, payment.amount, payment.commission, payment.key.currency
            )
            counted = rebuilt[payment.key]
            commission = counted.commission_amount + split.commission
            rebuilt[payment.key] = replace(counted, commission_amount=commission)
    stored = {row.key: row for row in await repository.stored_day(day, merchant_id)}
    differences = [
        difference
        for key in sorted(stored.keys() | rebuilt.keys())
        for difference in _compare(
            key,
            stored[key].counters if key in stored else Counters(),
            rebuilt.get(key, Counters()),
        )
    ]
    if fix and differences:
        changed = {difference.key for difference in differences}
        for key in sorted(changed):
            if key in rebuilt:
                await repository.put(key, rebuilt[key], now)
        await repository.remove([stored[key].id for key in changed if key not in rebuilt])
        await _audit(session, day, differences)
    return DayResult(day=day, rows=len(stored.keys() | rebuilt.keys()), differences=differences)


def _compare(key: Key, stored: Counters, rebuilt: Counters) -> list[Difference]:
    return [
        Difference(key, name, getattr(stored, name), getattr(rebuilt, name))
        for name in COUNTER_FIELDS
        if getattr(stored, name) != getattr(rebuilt, name)
    ]


async def _audit(session: AsyncSession, day: date, differences: list[Difference]) -> None:
    """One `statistics.rebuilt` event per merchant whose rows were corrected."""
    by_merchant: dict[uuid.UUID, list[Difference]] = defaultdict(list)
    for difference in differences:
        by_merchant[difference.key.merchant_id].append(difference)
    for merchant_id, found in by_merchant.items():
        await audit_service.record(
            session,
            event_type="statistics.rebuilt",
            actor="operator",
            merchant_id=merchant_id,
            data={
                "date": day.isoformat(),
                "corrections": [
                    {
                        "gateway": difference.key.gateway,
                        "currency": difference.key.currency,
                        "field": difference.field,
                        "stored": difference.shown(difference.stored),
                        "rebuilt": difference.shown(difference.rebuilt),
                    }
                    for difference in found
                ],
            },
        )
