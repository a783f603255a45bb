"""`payrelay stats`: the daily report and its rebuild from the source tables."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from payrelay.cli import common
from payrelay.config import get_settings
from payrelay.exceptions import PayrelayError
from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from payrelay.statistics import service as statistics_service
from payrelay.statistics import tasks as statistics_tasks
from payrelay.statistics.presenter import report_body
from payrelay.statistics.rebuild import DayResult, Difference
from payrelay.statistics.service import Period, Report

T = TypeVar("T")

stats_app = typer.Typer(
    help="Daily payment statistics: `payrelay stats --merchant ID` prints the report.",
    invoke_without_command=True,
    no_args_is_help=False,
)

DATE_FORMATS = ["%Y-%m-%d"]
TABLE_COLUMNS = (
    ("date", "<"),
    ("gateway", "<"),
    ("currency", "<"),
    ("transactions", ">"),
    ("successful", ">"),
    ("failed", ">"),
    ("success", ">"),
    ("revenue", ">"),
    ("refunded", ">"),
    ("commission", ">"),
    ("avg time", ">"),
)
CSV_FIELDS = (
    "date",
    "gateway",
    "currency",
    "total_requests",
    "successful_payments",
    "failed_payments",
    "success_rate",
    "total_amount",
    "successful_amount",
    "refunded_amount",
    "commission_amount",
    "average_processing_time",
)


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _check_input(days: int, gateway: str | None, currency: str | None, as_json: bool) -> None:
    """Refuse bad options before touching the database."""
    try:
        statistics_service.report_period(datetime.now(UTC).date(), days=days)
        statistics_service.checked_gateway(gateway)
        statistics_service.checked_currency(currency)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code, exit_code=2)


# --- the report ----------------------------------------------------------------------------


@stats_app.callback()
def stats(
    ctx: typer.Context,
    merchant: Annotated[str | None, typer.Option(help="Merchant id.")] = None,
    days: Annotated[int, typer.Option(help="Days up to today (1 to 366).")] = 30,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway.")] = None,
    currency: Annotated[str | None, typer.Option(help="Only this currency.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.TABLE,
) -> None:
    """Print a merchant's daily statistics, newest day first, with totals per currency."""
    if ctx.invoked_subcommand is not None:
        return
    as_json = output is OutputFormat.JSON
    if merchant is None:
        common.fail("say whose statistics to show: --merchant ID", as_json=as_json, exit_code=2)
    merchant_id = common.merchant_id(merchant, as_json=as_json)
    _check_input(days, gateway, currency, as_json)

    async def work(db: Database) -> tuple[str, Report]:
        async with db.session() as session:
            found = await merchant_service.get_merchant(session, merchant_id)
            if found is None:
                raise merchant_service.MerchantNotFound(f"no merchant {merchant_id}")
            report = await statistics_service.daily_report(
                session,
                found,
                now=datetime.now(UTC),
                days=days,
                gateway=gateway,
                currency=currency,
            )
            return found.name, report

    try:
        name, report = common.with_database(get_settings(), work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    body = report_body(report)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(body))
    elif output is OutputFormat.CSV:
        _print_csv(body)
    else:
        _print_table(name, body)


def _print_csv(body: dict[str, Any]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for day in body["days"]:
        writer.writerow({field: _csv_value(day[field]) for field in CSV_FIELDS})
    for total in body["totals"]:
        row = {"date": "total", "gateway": "all", **total}
        writer.writerow({field: _csv_value(row[field]) for field in CSV_FIELDS})


def _csv_value(value: Any) -> Any:
    return "" if value is None else value


def _print_table(name: str, body: dict[str, Any]) -> None:
    typer.echo(
        f"{name}: daily statistics {body['from']} to {body['to']} ({body['timezone']}), "
        "by creation day"
    )
    if not body["days"]:
        typer.echo("no payments in this period")
        return
    lines = [_table_cells(day["date"], day["gateway"], day) for day in body["days"]]
    totals = [_table_cells("total", "all", total) for total in body["totals"]]
    header = tuple(title for title, _ in TABLE_COLUMNS)
    widths = [
        max(len(cells[index]) for cells in (header, *lines, *totals))
        for index in range(len(TABLE_COLUMNS))
    ]

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, TABLE_COLUMNS, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    typer.echo(render(header))
    typer.echo(rule)
    for cells in lines:
        typer.echo(render(cells))
    typer.echo(rule)
    for cells in totals:
        typer.echo(render(cells))


def _table_cells(first: str, gateway: str, counters: dict[str, Any]) -> tuple[str, ...]:
    rate = counters["success_rate"]
    return (
        first,
        gateway,
        counters["currency"],
        str(counters["total_requests"]),
        str(counters["successful_payments"]),
        str(counters["failed_payments"]),
        "-" if rate is None else f"{rate}%",
        counters["successful_amount"],
        counters["refunded_amount"],
        counters["commission_amount"],
        _duration(counters["average_processing_time"]),
    )


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


# --- the rebuild ---------------------------------------------------------------------------


@stats_app.command("rebuild")
def rebuild(
    first: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=DATE_FORMATS, help="First day (default: the first with payments)."
        ),
    ] = None,
    last: Annotated[
        datetime | None,
        typer.Option(
            "--to", formats=DATE_FORMATS, help="Last day (default: the last with payments)."
        ),
    ] = None,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only report differences; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recompute the daily statistics from the payments, report every difference from the
    stored rows and correct them (one transaction per day). With --check, exit 1 when any
    row differs."""
    merchant_id = common.merchant_id(merchant, as_json=as_json) if merchant is not None else None
    first_day = first.date() if first is not None else None
    last_day = last.date() if last is not None else None
    if first_day is not None and last_day is not None and first_day > last_day:
        common.fail(
            f"the range is reversed: {first_day} is after {last_day}",
            as_json=as_json,
            code=statistics_service.InvalidDateRange.code,
            exit_code=2,
        )

    async def work(db: Database) -> tuple[Period | None, list[DayResult]]:
        period = await statistics_tasks.plan_rebuild(
            db, merchant_id, first=first_day, last=last_day
        )
        if period is None:
            return None, []
        label = "checking" if check else "rebuilding"
        with typer.progressbar(length=period.days, label=label, file=sys.stderr) as bar:
            results = await statistics_tasks.rebuild(
                db,
                period,
                merchant_id=merchant_id,
                fix=not check,
                clock=lambda: datetime.now(UTC),
                on_day=lambda _: bar.update(1),
            )
        return period, results

    try:
        period, results = common.with_database(get_settings(), work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    differences = [difference for result in results for difference in result.differences]
    if as_json:
        typer.echo(json.dumps(_rebuild_body(period, results, differences, fixed=not check)))
    else:
        _print_rebuild(period, results, differences, fixed=not check)
    if check and differences:
        raise typer.Exit(1)


def _difference_body(difference: Difference) -> dict[str, Any]:
    key = difference.key
    return {
        "date": key.date.isoformat(),
        "merchant_id": str(key.merchant_id),
        "gateway": key.gateway,
        "currency": key.currency,
        "field": difference.field,
        "stored": difference.shown(difference.stored),
        "rebuilt": difference.shown(difference.rebuilt),
    }


def _rebuild_body(
    period: Period | None,
    results: list[DayResult],
    differences: list[Difference],
    *,
    fixed: bool,
) -> dict[str, Any]:
    return {
        "from": period.first.isoformat() if period else None,
        "to": period.last.isoformat() if period else None,
        "days": len(results),
        "rows": sum(result.rows for result in results),
        "rows_differing": len({difference.key for difference in differences}),
        "differences": [_difference_body(difference) for difference in differences],
        "fixed": fixed and bool(differences),
    }


def _print_rebuild(
    period: Period | None,
    results: list[DayResult],
    differences: list[Difference],
    *,
    fixed: bool,
) -> None:
    if period is None:
        typer.echo("nothing to rebuild: no payments and no statistics")
        return
    for difference in differences:
        body = _difference_body(difference)
        typer.echo(
            f"{body['date']}  {body['merchant_id']}  {body['gateway']}  {body['currency']}  "
            f"{body['field']}: stored {body['stored']}, rebuilt {body['rebuilt']}"
        )
    rows = sum(result.rows for result in results)
    summary = (
        f"{_count(len(results), 'day')} ({period.first} to {period.last}), {_count(rows, 'row')}"
    )
    if not differences:
        typer.echo(f"{summary}: no differences")
        return
    differing = _count(len({difference.key for difference in differences}), "row")
    outcome = "corrected" if fixed else "not changed (--check)"
    typer.echo(f"{summary}: {_count(len(differences), 'difference')} in {differing}, {outcome}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
