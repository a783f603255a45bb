"""`payrelay stats` and `payrelay stats rebuild`, run as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import text

from tests.commands import payrelay
from tests.statistics.helpers import stored, table_count


@pytest.fixture(scope="module")
async def shop(factory_module):
    shop = await factory_module.merchant(name="CLI stats shop")
    await shop.captured(amount="150000")
    await shop.captured(amount="20.00", currency="USD")
    declined = await shop.created(amount="5.00", currency="USD")
    await shop.checkout(declined["id"], "decline")
    return shop


def single_day(rows: list[dict[str, str]]) -> bool:
    return len({row["date"] for row in rows if row["date"] != "total"}) == 1


async def test_the_report_as_json_is_the_apis_document(database_url, shop):
    result = payrelay(database_url, "stats", "--merchant", str(shop.id), "--format", "json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    response = await shop.http.get("/api/v1/statistics/daily", headers=shop.headers)
    assert printed == response.json()
    assert {total["currency"] for total in printed["totals"]} == {"USD", "VND"}


async def test_the_report_as_csv_has_a_row_per_day_and_a_total_per_currency(database_url, shop):
    result = payrelay(database_url, "stats", "--merchant", str(shop.id), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    totals = {row["currency"]: row for row in rows if row["date"] == "total"}
    assert set(totals) == {"USD", "VND"}
    assert totals["USD"] | {"average_processing_time": ""} == {
        "date": "total",
        "gateway": "all",
        "currency": "USD",
        "total_requests": "2",
        "successful_payments": "1",
        "failed_payments": "1",
        "success_rate": "50.00",
        "total_amount": "25.00",
        "successful_amount": "20.00",
        "refunded_amount": "0.00",
        "commission_amount": "1.00",
        "average_processing_time": "",
    }
    assert totals["VND"]["successful_amount"] == "150000"
    assert totals["VND"]["commission_amount"] == "7500"
    days = [row for row in rows if row["date"] != "total"]
    assert {row["currency"] for row in days} == {"USD", "VND"}


async def test_the_report_as_a_table_reads_like_the_documents_report(database_url, shop):
    result = payrelay(database_url, "stats", "--merchant", str(shop.id))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("CLI stats shop: daily statistics ")
    assert lines[0].endswith("(UTC), by creation day")
    assert lines[1].split() == [
        "date",
        "gateway",
        "currency",
        "transactions",
        "successful",
        "failed",
        "success",
        "revenue",
        "refunded",
        "commission",
        "avg",
        "time",
    ]
    totals = [line.split() for line in lines if line.startswith("total")]
    assert [cells[:10] for cells in totals] == [
        ["total", "all", "USD", "2", "1", "1", "50.00%", "20.00", "0.00", "1.00"],
        ["total", "all", "VND", "1", "1", "0", "100.00%", "150000", "0", "7500"],
    ]
    assert all(cells[10].endswith(("s", "m")) for cells in totals)


async def test_rebuild_check_reports_a_tampered_row_and_rebuild_corrects_it(
    database_url, db, factory
):
    shop = await factory.merchant()
    await shop.captured()
    counted = await stored(db, shop.id)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE payment_statistics SET failed_payments = 4 WHERE merchant_id = :m"),
            {"m": shop.id},
        )
    check = payrelay(database_url, "stats", "rebuild", "--merchant", str(shop.id), "--check")
    assert check.returncode == 1, check.stderr
    ((day, _, _),) = counted
    assert f"{day}  {shop.id}  sandbox  VND  failed_payments: stored 4, rebuilt 0" in check.stdout
    assert "1 difference in 1 row, not changed (--check)" in check.stdout
    assert "checking" in check.stderr  # the progress bar
    assert (await stored(db, shop.id))[(day, "sandbox", "VND")]["failed_payments"] == 4

    fix = payrelay(database_url, "stats", "rebuild", "--merchant", str(shop.id), "--json")
    assert fix.returncode == 0, fix.stderr
    report = json.loads(fix.stdout)
    assert report["fixed"] is True
    assert report["differences"] == [
        {
            "date": day.isoformat(),
            "merchant_id": str(shop.id),
            "gateway": "sandbox",
            "currency": "VND",
            "field": "failed_payments",
            "stored": "4",
            "rebuilt": "0",
        }
    ]
    assert await stored(db, shop.id) == counted
    again = payrelay(database_url, "stats", "rebuild", "--merchant", str(shop.id), "--check")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("1 row: no differences")


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["stats"], 2, "--merchant ID"),
        (["stats", "--merchant", "{merchant}", "--days", "0"], 2, "days must be 1 to 366"),
        (["stats", "--merchant", "{merchant}", "--days", "367"], 2, "days must be 1 to 366"),
        (["stats", "--merchant", "{merchant}", "--gateway", "visa"], 2, "unknown gateway"),
        (["stats", "--merchant", "{merchant}", "--format", "xml"], 2, "xml"),
        (["stats", "--merchant", "not-a-uuid"], 2, "a merchant id is a UUID"),
        (["stats", "--merchant", "{stranger}", "--format", "json"], 1, "merchant_not_found"),
        (["stats", "rebuild", "--from", "2026-03-10", "--to", "2026-03-01"], 2, "reversed"),
        (["stats", "rebuild", "--from", "2026-13-01"], 2, "2026-13-01"),
        (["stats", "rebuild", "--merchant", "{stranger}"], 1, "no merchant"),
    ],
)
async def test_bad_input_fails_clearly_and_changes_nothing(
    database_url, db, shop, args, exit_code, message
):
    rows = await table_count(db)
    filled = [arg.format(merchant=shop.id, stranger=uuid.UUID(int=7)) for arg in args]
    result = payrelay(database_url, *filled)
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""
    assert await table_count(db) == rows
