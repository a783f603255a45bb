"""The report reads a narrow range of the (merchant_id, date) indexes of the rows and of the
pending deltas, not the whole tables: with
a year of rows for many merchants, analyzed, the planner picks the index on its own (no
`enable_seqscan = off`). Everything is inserted in one transaction that is rolled back."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from payrelay.statistics.repository import report_query

MERCHANTS = 80
DAYS = 400
INDEXES = {
    "ix_payment_statistics_merchant_id_date",
    "ix_payment_statistics_deltas_merchant_id_date",
}
LAST_DAY = date(2031, 6, 30)


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(child for sub in node.get("Plans", []) for child in plan_nodes(sub))]


async def test_the_30_day_report_is_an_index_range_scan(db):
    async with db.session() as session:  # never committed
        await session.execute(
            text(
                "INSERT INTO merchants (id, name, callback_secret) "
                "SELECT gen_random_uuid(), 'plan ' || n, 'whsec_plan' "
                "FROM generate_series(1, :merchants) AS n"
            ),
            {"merchants": MERCHANTS},
        )
        await session.execute(
            text(
                "INSERT INTO payment_statistics (date, merchant_id, gateway_name, currency, "
                "total_requests, successful_payments, total_amount, successful_amount, "
                "processing_time_total, processing_time_count, average_processing_time) "
                "SELECT CAST(:last AS date) - d, m.id, 'sandbox', c, "
                "40, 30, 4000, 3000, 300, 30, 10 "
                "FROM merchants m, generate_series(0, :days - 1) AS d, "
                "unnest(ARRAY['VND', 'USD']) AS c WHERE m.name LIKE 'plan %'"
            ),
            {"last": LAST_DAY, "days": DAYS},
        )
        # Events not yet folded: a few per merchant and day, summed into the same 60 rows.
        await session.execute(
            text(
                "INSERT INTO payment_statistics_deltas (date, merchant_id, gateway_name, "
                "currency, total_requests, total_amount) "
                "SELECT CAST(:last AS date) - d, m.id, 'sandbox', 'VND', 1, 100 "
                "FROM merchants m, generate_series(0, 9) AS d, generate_series(1, 3) AS e "
                "WHERE m.name LIKE 'plan %'"
            ),
            {"last": LAST_DAY},
        )
        await session.execute(text("ANALYZE payment_statistics"))
        await session.execute(text("ANALYZE payment_statistics_deltas"))
        merchant_id = (
            await session.execute(text("SELECT id FROM merchants WHERE name = 'plan 7'"))
        ).scalar_one()
        assert isinstance(merchant_id, uuid.UUID)
        query = report_query(merchant_id, LAST_DAY - timedelta(days=29), LAST_DAY)
        sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        result = await session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))
        ((explained,),) = result.all()
        await session.rollback()
    plan = explained[0]["Plan"]
    nodes = plan_nodes(plan)
    assert {node.get("Index Name") for node in nodes if "Index Name" in node} == INDEXES
    assert all(node["Node Type"] != "Seq Scan" for node in nodes)
    assert plan["Actual Rows"] == 60  # 30 days × 2 currencies, read from the index
