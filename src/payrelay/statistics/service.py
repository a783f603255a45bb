"""Daily statistics per (date, merchant, gateway, currency), kept in the same transaction as
each counted event, and the merchant's report read from them.

The day of every counter is the payment's creation day in the merchant's reporting time zone
(as the marketplace document's report groups by `created_at`): a payment created on day D and
captured on D+1 counts as successful on D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from payrelay import connectors
from payrelay.exceptions import UnprocessableEntity
from payrelay.kit import money
from payrelay.kit.db import AsyncSession
from payrelay.models import Merchant
from payrelay.payment.errors import UnknownGateway, UnsupportedCurrency
from payrelay.payment.repository import PaymentRow
from payrelay.payment.state import Ledger
from payrelay.statistics import counters
from payrelay.statistics.counters import Counters, Key, Terms
from payrelay.statistics.repository import ReportRow, StatisticsRepository

DEFAULT_DAYS = 30
MAX_DAYS = 366


class InvalidDateRange(UnprocessableEntity):
    code = "invalid_date_range"


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# --- counting ------------------------------------------------------------------------------


async def count_created(
    session: AsyncSession, row: PaymentRow, *, timezone: str, now: datetime
) -> None:
    """Count a new payment attempt of a merchant whose reporting time zone is `timezone` (the
    caller has the merchant at hand)."""
    await _add(session, row, counters.created(_terms(row)), now, timezone)


async def follow_ledger(
    session: AsyncSession, row: PaymentRow, before: Ledger, after: Ledger, *, now: datetime
) -> None:
    """Count a change of a payment's money or status."""
    await _add(session, row, counters.changed(_terms(row), before, after, now=now), now)


def _terms(row: PaymentRow) -> Terms:
    transaction = row.transaction
    return Terms(
        amount=transaction.amount,
        commission=transaction.marketplace_commission,
        currency=transaction.currency,
        created_at=transaction.created_at,
    )


async def _add(
    session: AsyncSession,
    row: PaymentRow,
    change: Counters,
    now: datetime,
    timezone: str | None = None,
) -> None:
    if change.is_zero:
        return
    transaction = row.transaction
    repository = StatisticsRepository(session)
    if timezone is None:
        # Read in the event's transaction: the day follows the merchant's time zone of the moment.
        timezone = await repository.reporting_timezone(transaction.merchant_id)
    key = Key(
        date=local_date(transaction.created_at, timezone),
        merchant_id=transaction.merchant_id,
        gateway=row.gateway,
        currency=transaction.currency,
    )
    await repository.add(key, change, now)


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Statistics days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range(self.days)]


@dataclass(frozen=True, slots=True)
class Report:
    timezone: str
    period: Period
    rows: list[ReportRow]


def ordered_period(first: date, last: date) -> Period:
    """A period given by its two ends, which must be in order."""
    if first > last:
        raise InvalidDateRange(
            f"the range is reversed: {first.isoformat()} is after {last.isoformat()}",
            details={"from": first.isoformat(), "to": last.isoformat()},
        )
    return Period(first, last)


def checked_period(first: date, last: date) -> Period:
    """A period to read: in order, and not longer than `MAX_DAYS`."""
    period = ordered_period(first, last)
    if period.days > MAX_DAYS:
        raise InvalidDateRange(
            f"the range covers {period.days} days; at most {MAX_DAYS} can be read at once",
            details={"from": first.isoformat(), "to": last.isoformat(), "max_days": MAX_DAYS},
        )
    return period


def report_period(
    today: date,
    *,
    first: date | None = None,
    last: date | None = None,
    days: int = DEFAULT_DAYS,
) -> Period:
    """The days to report: from `first` (default: `days` days back) to `last` (default today)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidDateRange(f"days must be 1 to {MAX_DAYS}, not {days}", details={"days": days})
    if last is None:
        last = today
    if first is None:
        try:
            first = last - timedelta(days=days - 1)
        except OverflowError:
            raise InvalidDateRange(
                f"{last.isoformat()} is too close to the start of the calendar",
                details={"to": last.isoformat()},
            ) from None
    return checked_period(first, last)


def checked_gateway(gateway: str | None) -> str | None:
    if gateway is not None and not connectors.is_registered(gateway):
        raise UnknownGateway(f"unknown gateway {gateway!r}", details={"known": connectors.codes()})
    return gateway


def checked_currency(currency: str | None) -> str | None:
    if currency is None:
        return None
    code = currency.upper()
    if not money.is_currency(code):
        raise UnsupportedCurrency(
            f"{currency!r} is not an ISO 4217 currency code", details={"currency": currency}
        )
    return code


async def daily_report(
    session: AsyncSession,
    merchant: Merchant,
    *,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    days: int = DEFAULT_DAYS,
    gateway: str | None = None,
    currency: str | None = None,
) -> Report:
    """The merchant's rows for the period, in its reporting time zone, newest day first."""
    gateway = checked_gateway(gateway)
    currency = checked_currency(currency)
    timezone = merchant.reporting_timezone
    period = report_period(local_date(now, timezone), first=first, last=last, days=days)
    rows = await StatisticsRepository(session).rows(
        merchant.id, period.first, period.last, gateway=gateway, currency=currency
    )
    return Report(timezone=timezone, period=period, rows=rows)
