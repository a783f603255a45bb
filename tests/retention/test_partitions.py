"""payment_logs is partitioned by month; the worker keeps the coming months created; rows the
DEFAULT partition caught move into their month; the trail stays append-only on every
partition."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from payrelay.config import Settings
from payrelay.kit.db import Database
from payrelay.retention.service import months_from
from payrelay.retention.tasks import maintain_partitions
from tests.factories import Factory
from tests.retention.helpers import execute


async def _partitions(db: Database) -> dict[str, str]:
    """Partition name -> its bounds."""
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'payment_logs'::regclass"
            )
        )
        return {str(name): str(bound) for name, bound in result.all()}


async def _homes(db: Database, payment_id: str) -> set[str]:
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT DISTINCT tableoid::regclass::text FROM payment_logs"
                " WHERE payment_request_id = :p"
            ),
            {"p": uuid.UUID(payment_id)},
        )
        return set(result.scalars())


async def test_payment_logs_is_partitioned_by_month_and_rows_land_in_theirs(
    factory: Factory, db: Database
) -> None:
    async with db.session() as session:
        strategy = await session.scalar(
            text(
                "SELECT partstrat::text FROM pg_partitioned_table"
                " WHERE partrelid = 'payment_logs'::regclass"
            )
        )
    assert strategy == "r"
    partitions = await _partitions(db)
    assert partitions["payment_logs_default"] == "DEFAULT"
    for start, end in months_from(datetime.now(UTC), 3):
        bound = partitions[f"payment_logs_p{start:%Y%m}"]
        assert bound == (
            f"FOR VALUES FROM ('{start:%Y-%m-%d} 00:00:00+00') TO ('{end:%Y-%m-%d} 00:00:00+00')"
        )

    shop = await factory.merchant()
    payment = await shop.captured()
    async with db.session() as session:
        now = await session.scalar(text("SELECT now()"))
    assert await _homes(db, payment["id"]) == {f"payment_logs_p{now:%Y%m}"}


async def test_the_worker_creates_the_coming_months_once(db: Database, settings: Settings) -> None:
    later = datetime(2033, 11, 20, 12, tzinfo=UTC)
    months = ["payment_logs_p203311", "payment_logs_p203312", "payment_logs_p203401"]
    months.append("payment_logs_p203402")
    assert not set(months) & set(await _partitions(db))
    async with httpx.AsyncClient() as http:
        created = await maintain_partitions(db, http, settings, lambda: later)
        assert created == 4
        partitions = await _partitions(db)
        assert set(months) <= set(partitions)
        assert partitions["payment_logs_p203401"] == (
            "FOR VALUES FROM ('2034-01-01 00:00:00+00') TO ('2034-02-01 00:00:00+00')"
        )
        # Nothing to do the second time.
        assert await maintain_partitions(db, http, settings, lambda: later) == 0
        assert await _partitions(db) == partitions


async def test_rows_the_default_partition_caught_move_into_their_month(
    db: Database, settings: Settings
) -> None:
    stamp = datetime(2036, 3, 14, 15, 9, 26, tzinfo=UTC)
    async with db.transaction() as session:
        row_id = await session.scalar(
            text(
                "INSERT INTO payment_logs (event_type, actor, event_data, created_at)"
                " VALUES ('operator.note', 'operator', '{\"pi\": 3}', :at) RETURNING id"
            ),
            {"at": stamp},
        )
    query = text(
        "SELECT tableoid::regclass::text, event_type, event_data, created_at FROM payment_logs"
        " WHERE id = :id"
    )
    async with db.session() as session:
        before = (await session.execute(query, {"id": row_id})).one()
    assert before[0] == "payment_logs_default"

    async with httpx.AsyncClient() as http:
        created = await maintain_partitions(db, http, settings, lambda: stamp)
    assert created == 4
    async with db.session() as session:
        after = (await session.execute(query, {"id": row_id})).one()
    assert after[0] == "payment_logs_p203603"
    assert tuple(after[1:]) == tuple(before[1:])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {partition} SET actor = 'nobody' WHERE id = :id",
        "DELETE FROM {partition} WHERE id = :id",
        "TRUNCATE {partition}",
        "TRUNCATE payment_logs_default",
        "TRUNCATE payment_logs_p204006",
    ],
)
async def test_every_partition_is_append_only(
    factory: Factory, db: Database, settings: Settings, statement: str
) -> None:
    async with httpx.AsyncClient() as http:  # a partition the worker made, not the migration
        await maintain_partitions(db, http, settings, lambda: datetime(2040, 6, 1, tzinfo=UTC))
    shop = await factory.merchant()
    payment = await shop.captured()
    [partition] = await _homes(db, payment["id"])
    async with db.session() as session:
        row_id = await session.scalar(
            text("SELECT min(id) FROM payment_logs WHERE payment_request_id = :p"),
            {"p": uuid.UUID(payment["id"])},
        )
    with pytest.raises(DBAPIError, match="payment_logs is append-only"):
        await execute(db, statement.format(partition=partition), id=row_id)
    assert await _homes(db, payment["id"]) == {partition}


async def test_the_rehoming_switch_does_not_open_month_partitions(
    factory: Factory, db: Database
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    [partition] = await _homes(db, payment["id"])
    with pytest.raises(DBAPIError, match="payment_logs is append-only: DELETE"):
        await _delete_rehoming(db, partition, payment["id"])
    assert await _homes(db, payment["id"]) == {partition}


async def _delete_rehoming(db: Database, partition: str, payment_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            text("SELECT set_config('payrelay.rehoming', :name, true)"), {"name": partition}
        )
        await session.execute(
            text(f"DELETE FROM {partition} WHERE payment_request_id = :p"),
            {"p": uuid.UUID(payment_id)},
        )
