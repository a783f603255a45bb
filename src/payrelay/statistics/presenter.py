"""The daily report as the API returns it (and `payrelay stats --format json` prints it).

Amounts of different currencies are never added together: totals are per currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from payrelay.kit.money import format_amount
from payrelay.statistics.counters import Counters
from payrelay.statistics.repository import ReportRow
from payrelay.statistics.service import Report

PERCENT = Decimal("0.01")


def success_rate(counters: Counters) -> Decimal | None:
    """Successful payments per 100 attempts, to two decimals; None without attempts."""
    if counters.total_requests <= 0:
        return None
    rate = Decimal(100 * counters.successful_payments) / Decimal(counters.total_requests)
    return rate.quantize(PERCENT, rounding=ROUND_HALF_EVEN)


def average_processing_time(counters: Counters) -> int | None:
    """Whole seconds; None while no payment of the row has been decided."""
    if counters.processing_time_count == 0:
        return None
    return counters.average_processing_time


def totals_by_currency(rows: Iterable[ReportRow]) -> dict[str, Counters]:
    totals: dict[str, Counters] = {}
    for row in rows:
        currency = row.key.currency
        totals[currency] = totals.get(currency, Counters()) + row.counters
    return dict(sorted(totals.items()))


def counters_body(counters: Counters, currency: str) -> dict[str, Any]:
    rate = success_rate(counters)
    return {
        "total_requests": counters.total_requests,
        "successful_payments": counters.successful_payments,
        "failed_payments": counters.failed_payments,
        "success_rate": None if rate is None else f"{rate:f}",
        "total_amount": format_amount(counters.total_amount, currency),
        "successful_amount": format_amount(counters.successful_amount, currency),
        "refunded_amount": format_amount(counters.refunded_amount, currency),
        "commission_amount": format_amount(counters.commission_amount, currency),
        "average_processing_time": average_processing_time(counters),
    }


def report_body(report: Report) -> dict[str, Any]:
    return {
        "timezone": report.timezone,
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "days": [
            {
                "date": row.key.date.isoformat(),
                "gateway": row.key.gateway,
                "currency": row.key.currency,
                **counters_body(row.counters, row.key.currency),
            }
            for row in report.rows
        ],
        "totals": [
            {"currency": currency, **counters_body(total, currency)}
            for currency, total in totals_by_currency(report.rows).items()
        ],
    }
