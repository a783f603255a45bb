"""`payrelay archive` as an operator runs it: bad dates are refused and change nothing,
`--dry-run` only counts, a real run moves what it counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from payrelay.kit.db import Database
from tests.commands import payrelay
from tests.factories import Factory
from tests.retention.helpers import make_old, next_epoch, rows_of, table_sizes

NOW = datetime.now(UTC)


FUTURE = (NOW + timedelta(days=2)).date().isoformat()
TOO_RECENT = (NOW - timedelta(days=10)).date().isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--before", FUTURE), "in the future", id="future"),
        pytest.param(
            ("--before", "2999-01-01T00:00:00Z", "--dry-run"), "in the future", id="future-time"
        ),
        pytest.param(("--before", "next tuesday"), "must be a date", id="unparsable"),
        pytest.param(("--before", "2025-02-30", "--dry-run"), "must be a date", id="no-such-day"),
        pytest.param(("--before", ""), "must be a date", id="empty"),
        pytest.param(("--before", TOO_RECENT), "at least 90 days ago", id="too-recent"),
    ],
)
async def test_a_bad_date_is_refused_and_nothing_moves(
    factory: Factory, db: Database, database_url: str, args: tuple[str, ...], message: str
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    await make_old(db, payment["id"], next_epoch())  # archivable by any valid date
    sizes, live = await table_sizes(db), await rows_of(db, payment["id"])

    result = payrelay(database_url, "archive", *args, "--json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "archive_date_invalid"
    assert message in error["message"]
    if args[1] == FUTURE:
        plain = payrelay(database_url, "archive", *args)
        assert plain.returncode == 2
        assert plain.stderr.startswith("error: --before")

    assert await table_sizes(db) == sizes
    assert await rows_of(db, payment["id"]) == live


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("archive",), id="no-date"),
        pytest.param(("archive", "--before", "2020-01-01", "--batch-size", "0"), id="batch-0"),
        pytest.param(("archive", "--before", "2020-01-01", "--batch-size", "x"), id="batch-x"),
        pytest.param(("archive", "--before", "2020-01-01", "--later"), id="unknown-option"),
    ],
)
async def test_bad_arguments_are_usage_errors(
    db: Database, database_url: str, args: tuple[str, ...]
) -> None:
    sizes = await table_sizes(db)
    result = payrelay(database_url, *args)
    assert result.returncode == 2
    assert await table_sizes(db) == sizes


async def test_dry_run_counts_then_the_run_moves_exactly_that(
    factory: Factory, db: Database, database_url: str
) -> None:
    epoch = next_epoch()
    before = (epoch + timedelta(days=1)).date().isoformat()
    shop = await factory.merchant()
    payments = [(await shop.captured())["id"] for _ in range(3)]
    for payment in payments:
        await make_old(db, payment, epoch)
    live = {payment: await rows_of(db, payment) for payment in payments}
    sizes = await table_sizes(db)

    dry = payrelay(database_url, "archive", "--before", before, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["before"] == f"{before}T00:00:00+00:00"
    assert planned["payments"] == 3
    assert planned["rows"] == {
        table: sum(counts[table] for counts in live.values()) for table in live[payments[0]]
    }
    assert await table_sizes(db) == sizes
    assert {payment: await rows_of(db, payment) for payment in payments} == live

    run = payrelay(database_url, "archive", "--before", before, "--batch-size", "2")
    assert run.returncode == 0, run.stderr
    assert "archiving" in run.stderr  # the progress bar
    lines = dict(line.split(": ", 1) for line in run.stdout.splitlines())
    assert lines["payments"] == "3"
    assert lines["batches"] == "2"
    assert lines["rows.payment_logs"] == str(planned["rows"]["payment_logs"] + 3)
    for payment in payments:
        assert set((await rows_of(db, payment)).values()) == {0}
        assert (await rows_of(db, payment, archived=True))["payment_requests"] == 1
        assert await shop.get(payment)
