"""The archive tables keep up with the live ones. A migration that changes a live table must
change its archive the same way (docs/operations.md): this fails CI when it forgets."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from payrelay.kit.db import Database
from payrelay.models import ARCHIVES

COLUMNS = text(
    "SELECT column_name, data_type, udt_name, character_maximum_length, numeric_precision,"
    " numeric_scale, is_nullable FROM information_schema.columns"
    " WHERE table_schema = 'public' AND table_name = :table ORDER BY column_name"
)

# Tables that may point into archived tables and stay live, with why (docs/operations.md).
LIVE_REFERRERS = {
    # Finished keys keep replaying their stored answer; archiving clears their links.
    "idempotency_keys",
}


@pytest.mark.parametrize("table", list(ARCHIVES))
async def test_each_archive_has_exactly_its_live_tables_columns(db: Database, table: str) -> None:
    async with db.session() as session:
        live = (await session.execute(COLUMNS, {"table": table})).all()
        archived = (await session.execute(COLUMNS, {"table": f"{table}_archive"})).all()
        foreign_keys = await session.scalar(
            text(
                "SELECT count(*) FROM pg_constraint"
                " WHERE conrelid = CAST(:table AS regclass) AND contype = 'f'"
            ),
            {"table": f"{table}_archive"},
        )
        primary_key = await session.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = CAST(:table AS regclass) AND contype = 'p'"
            ),
            {"table": f"{table}_archive"},
        )
    assert live
    assert archived == live
    assert foreign_keys == 0
    assert primary_key == "PRIMARY KEY (id)"


async def test_only_archived_tables_point_at_archived_rows(db: Database) -> None:
    """A new table holding a payment's rows must be archived with it (or listed here with a
    reason): otherwise its foreign key would stop the archive, or its rows would be lost."""
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT DISTINCT source.relname, target.relname FROM pg_constraint c"
                " JOIN pg_class source ON source.oid = c.conrelid"
                " JOIN pg_class target ON target.oid = c.confrelid"
                " WHERE c.contype = 'f' AND NOT source.relispartition"
            )
        )
        references = result.all()
    archived = set(ARCHIVES)
    strays = {
        (source, target)
        for source, target in references
        if target in archived and source not in archived | LIVE_REFERRERS
    }
    assert strays == set()
    assert any(source == "idempotency_keys" for source, target in references if target in archived)
