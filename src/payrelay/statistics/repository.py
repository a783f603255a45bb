"""All SQL of the statistics: the per-event increment, the merchant's report, and the rebuild's
reads and writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    ColumnElement,
    Select,
    String,
    Subquery,
    Values,
    case,
    column,
    delete,
    extract,
    func,
    select,
    text,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import insert

from payrelay.enums import PaymentStatus
from payrelay.kit.db import AsyncSession
from payrelay.models import (
    Merchant,
    PaymentGateway,
    PaymentStatistics,
    PaymentStatisticsDelta,
    PaymentTransaction,
)
from payrelay.models.archive import ARCHIVES
from payrelay.statistics.counters import COUNTER_FIELDS, INTEGER_FIELDS, Counters, Key
from payrelay.statistics.fold import ROW_KEY, fold_statement

# What the rebuild reads of each payment; every source table has these columns.
SOURCE_COLUMNS = (
    "merchant_id",
    "gateway_id",
    "currency",
    "amount",
    "marketplace_commission",
    "status",
    "captured_amount",
    "refunded_amount",
    "created_at",
    "authorized_at",
    "failed_at",
)


def payment_sources() -> Subquery:
    """Every payment the statistics count, as one relation: the live transactions and the
    archived ones (archiving moves a payment in one transaction, so it is in exactly one)."""
    live = PaymentTransaction.__table__
    archived = ARCHIVES[PaymentTransaction.__tablename__]
    return union_all(
        select(*(live.c[name] for name in SOURCE_COLUMNS)),
        select(*(archived.c[name] for name in SOURCE_COLUMNS)),
    ).subquery("payments")


@dataclass(frozen=True, slots=True)
class DayBounds:
    """Where one statistics day lies in time, for the merchants of one time zone."""

    timezone: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class StoredRow:
    id: int
    key: Key
    counters: Counters


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: Key
    counters: Counters


@dataclass(frozen=True, slots=True)
class Folded:
    deltas: int  # deltas moved
    rows: int  # rows inserted or updated


@dataclass(frozen=True, slots=True)
class PartlyKept:
    """A payment that kept part of its amount: its commission needs the money rule."""

    key: Key
    amount: Decimal
    commission: Decimal
    kept: Decimal


@dataclass(frozen=True, slots=True)
class Extent:
    first_created: datetime | None
    last_created: datetime | None
    first_day: date | None
    last_day: date | None


def _counters(row: Any) -> Counters:
    """Counters from a row or a sum over rows (where Postgres widens counts to numeric)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in COUNTER_FIELDS}
    for name in INTEGER_FIELDS:
        values[name] = int(values[name])
    return Counters(**values)


def _stored(row: Any) -> StoredRow:
    key = Key(row.date, row.merchant_id, row.gateway_name, row.currency)
    return StoredRow(id=row.id, key=key, counters=_counters(row))


def _values(key: Key, counters: Counters, now: datetime) -> dict[str, Any]:
    return {
        "date": key.date,
        "merchant_id": key.merchant_id,
        "gateway_name": key.gateway,
        "currency": key.currency,
        **{name: getattr(counters, name) for name in COUNTER_FIELDS},
        "average_processing_time": counters.average_processing_time,
        "created_at": now,
        "updated_at": now,
    }


def _bounds_table(bounds: Sequence[DayBounds]) -> Values:
    return values(
        column("timezone", String),
        column("day_start", TIMESTAMP(timezone=True)),
        column("day_end", TIMESTAMP(timezone=True)),
        name="day_bounds",
    ).data([(bound.timezone, bound.start, bound.end) for bound in bounds])


def report_query(
    merchant_id: uuid.UUID,
    first: date,
    last: date,
    *,
    gateway: str | None = None,
    currency: str | None = None,
) -> Select[Any]:
    """The merchant's counters from `first` to `last`, newest day first: its rows plus the
    deltas not yet folded into them, each read by a range scan of its (merchant_id, date)
    index, whatever the size of the tables."""
    parts = []
    for table in (PaymentStatistics.__table__, PaymentStatisticsDelta.__table__):
        part = select(
            table.c.date,
            table.c.gateway_name,
            table.c.currency,
            *(table.c[name] for name in COUNTER_FIELDS),
        ).where(table.c.merchant_id == merchant_id, table.c.date >= first, table.c.date <= last)
        if gateway is not None:
            part = part.where(table.c.gateway_name == gateway)
        if currency is not None:
            part = part.where(table.c.currency == currency)
        parts.append(part)
    both = union_all(*parts).subquery("counted")
    keys = (both.c.date, both.c.gateway_name, both.c.currency)
    return (
        select(*keys, *(func.sum(both.c[name]).label(name) for name in COUNTER_FIELDS))
        .group_by(*keys)
        .order_by(both.c.date.desc(), both.c.gateway_name, both.c.currency)
    )


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reporting_timezone(self, merchant_id: uuid.UUID) -> str:
        result = await self.session.execute(
            select(Merchant.reporting_timezone).where(Merchant.id == merchant_id)
        )
        return result.scalar_one()

    async def add(self, key: Key, counters: Counters, now: datetime) -> None:
        """Append what an event adds to the row of `key`: an insert that waits on no other
        payment (the worker's fold moves it into the row)."""
        values = _values(key, counters, now)
        del values["average_processing_time"], values["updated_at"]
        await self.session.execute(insert(PaymentStatisticsDelta).values(values))

    async def fold(
        self,
        now: datetime,
        *,
        limit: int | None = None,
        day: date | None = None,
        merchant_id: uuid.UUID | None = None,
        skip_locked: bool = True,
    ) -> Folded:
        """Move pending deltas into their rows in one statement (deleted and added together, so
        a crash loses or doubles nothing). Oldest first; `limit` bounds one call. The worker
        skips deltas another folder holds; the rebuild waits for them instead, so that in its
        snapshot every delta is either folded or visibly pending."""
        statement = fold_statement(
            day=day is not None,
            merchant=merchant_id is not None,
            limited=limit is not None,
            skip_locked=skip_locked,
        )
        result = await self.session.execute(
            text(statement),
            {"day": day, "merchant_id": merchant_id, "limit": limit, "now": now},
        )
        deltas, rows = result.one()
        return Folded(deltas=deltas, rows=rows)

    async def pending_deltas(self, merchant_id: uuid.UUID | None = None) -> int:
        query = select(func.count()).select_from(PaymentStatisticsDelta)
        if merchant_id is not None:
            query = query.where(PaymentStatisticsDelta.merchant_id == merchant_id)
        result = await self.session.execute(query)
        return result.scalar_one()

    async def put(self, key: Key, counters: Counters, now: datetime) -> None:
        """Set the row of `key` to exactly `counters` (the rebuild's correction)."""
        statement = insert(PaymentStatistics).values(_values(key, counters, now))
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            constraint=ROW_KEY,
            set_={
                **{name: getattr(excluded, name) for name in COUNTER_FIELDS},
                "average_processing_time": excluded.average_processing_time,
                "updated_at": excluded.updated_at,
            },
        )
        await self.session.execute(statement)

    async def remove(self, row_ids: Sequence[int]) -> None:
        await self.session.execute(
            delete(PaymentStatistics).where(PaymentStatistics.id.in_(row_ids))
        )

    async def rows(
        self,
        merchant_id: uuid.UUID,
        first: date,
        last: date,
        *,
        gateway: str | None = None,
        currency: str | None = None,
    ) -> list[ReportRow]:
        query = report_query(merchant_id, first, last, gateway=gateway, currency=currency)
        result = await self.session.execute(query)
        return [
            ReportRow(
                key=Key(row.date, merchant_id, row.gateway_name, row.currency),
                counters=_counters(row),
            )
            for row in result
        ]

    async def stored_day(self, day: date, merchant_id: uuid.UUID | None) -> list[StoredRow]:
        query = select(PaymentStatistics).where(PaymentStatistics.date == day)
        if merchant_id is not None:
            query = query.where(PaymentStatistics.merchant_id == merchant_id)
        result = await self.session.execute(query)
        return [_stored(row) for row in result.scalars()]

    async def timezones(self, merchant_id: uuid.UUID | None) -> list[str]:
        query = select(Merchant.reporting_timezone).distinct()
        if merchant_id is not None:
            query = query.where(Merchant.id == merchant_id)
        result = await self.session.execute(query)
        return sorted(result.scalars())

    async def extent(self, merchant_id: uuid.UUID | None) -> Extent:
        """The first and last payment and the first and last day stored (in a row or a pending
        delta)."""
        payments = payment_sources()
        created = select(func.min(payments.c.created_at), func.max(payments.c.created_at))
        days = union_all(
            *(
                select(table.c.date, table.c.merchant_id)
                for table in (PaymentStatistics.__table__, PaymentStatisticsDelta.__table__)
            )
        ).subquery("days")
        stored = select(func.min(days.c.date), func.max(days.c.date))
        if merchant_id is not None:
            created = created.where(payments.c.merchant_id == merchant_id)
            stored = stored.where(days.c.merchant_id == merchant_id)
        first_created, last_created = (await self.session.execute(created)).one()
        first_day, last_day = (await self.session.execute(stored)).one()
        return Extent(first_created, last_created, first_day, last_day)

    async def rebuilt_day(
        self, day: date, bounds: Sequence[DayBounds], merchant_id: uuid.UUID | None
    ) -> dict[Key, Counters]:
        """The day's counters computed from the payments themselves. The commission is summed
        here for payments that kept all or nothing; `partly_kept` lists the others."""
        payments = payment_sources()
        kept = payments.c.captured_amount - payments.c.refunded_amount
        decided_at = func.coalesce(payments.c.authorized_at, payments.c.failed_at)
        elapsed = func.floor(extract("epoch", decided_at - payments.c.created_at))
        # NULL while undecided (GREATEST would turn that into 0), never negative.
        seconds = case((elapsed < 0, 0), else_=elapsed).cast(BigInteger)
        columns = (
            func.count().label("total_requests"),
            func.count().filter(payments.c.captured_amount > 0).label("successful_payments"),
            func.count()
            .filter(payments.c.status == PaymentStatus.FAILED.value)
            .label("failed_payments"),
            func.sum(payments.c.amount).label("total_amount"),
            func.sum(payments.c.captured_amount).label("successful_amount"),
            func.sum(payments.c.refunded_amount).label("refunded_amount"),
            func.coalesce(
                func.sum(payments.c.marketplace_commission).filter(kept == payments.c.amount), 0
            ).label("commission_amount"),
            func.coalesce(func.sum(seconds), 0).label("processing_time_total"),
            func.count(seconds).label("processing_time_count"),
        )
        query = _day_selection(payments, bounds, merchant_id, *columns).group_by(
            payments.c.merchant_id, PaymentGateway.code, payments.c.currency
        )
        result = await self.session.execute(query)
        rebuilt: dict[Key, Counters] = {}
        for row in result:
            key = Key(day, row.merchant_id, row.gateway_name, row.currency)
            rebuilt[key] = Counters(
                total_requests=row.total_requests,
                successful_payments=row.successful_payments,
                failed_payments=row.failed_payments,
                total_amount=row.total_amount,
                successful_amount=row.successful_amount,
                refunded_amount=row.refunded_amount,
                commission_amount=Decimal(row.commission_amount),
                processing_time_total=int(row.processing_time_total),
                processing_time_count=row.processing_time_count,
            )
        return rebuilt

    async def partly_kept(
        self, day: date, bounds: Sequence[DayBounds], merchant_id: uuid.UUID | None
    ) -> list[PartlyKept]:
        payments = payment_sources()
        kept = payments.c.captured_amount - payments.c.refunded_amount
        query = _day_selection(
            payments,
            bounds,
            merchant_id,
            payments.c.amount,
            payments.c.marketplace_commission,
            kept.label("kept"),
        ).where(kept > 0, kept < payments.c.amount)
        result = await self.session.execute(query)
        return [
            PartlyKept(
                key=Key(day, row.merchant_id, row.gateway_name, row.currency),
                amount=row.amount,
                commission=row.marketplace_commission,
                kept=row.kept,
            )
            for row in result
        ]


def _day_selection(
    payments: Subquery,
    bounds: Sequence[DayBounds],
    merchant_id: uuid.UUID | None,
    *columns: ColumnElement[Any],
) -> Select[Any]:
    """The payments created on one statistics day, each merchant's day in its own time zone.
    The outer bounds let the planner range-scan the index on `created_at`."""
    day_bounds = _bounds_table(bounds)
    query = (
        select(
            payments.c.merchant_id,
            PaymentGateway.code.label("gateway_name"),
            payments.c.currency,
            *columns,
        )
        .select_from(payments)
        .join(Merchant, Merchant.id == payments.c.merchant_id)
        .join(day_bounds, day_bounds.c.timezone == Merchant.reporting_timezone)
        .join(PaymentGateway, PaymentGateway.id == payments.c.gateway_id)
        .where(
            payments.c.created_at >= min(bound.start for bound in bounds),
            payments.c.created_at < max(bound.end for bound in bounds),
            payments.c.created_at >= day_bounds.c.day_start,
            payments.c.created_at < day_bounds.c.day_end,
        )
    )
    if merchant_id is not None:
        query = query.where(payments.c.merchant_id == merchant_id)
    return query
