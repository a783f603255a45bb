"""The one statement that folds statistics deltas into their daily rows: it deletes a batch of
deltas and adds their sums to the rows together, so a crash at any point loses or doubles
nothing. Built from the counter names only; every value is a bound parameter."""

from __future__ import annotations

from payrelay.statistics.counters import COUNTER_FIELDS, INTEGER_FIELDS

ROW_KEY = "uq_payment_statistics_date_merchant_id_gateway_name_currency"
KEY_COLUMNS = "date, merchant_id, gateway_name, currency"


def _summed(name: str) -> str:
    """A counter summed over deltas. Counts stay integers: Postgres widens a sum of bigint to
    numeric, and numeric division would round the average instead of truncating it."""
    if name in INTEGER_FIELDS:
        return f"sum({name})::bigint AS {name}"
    return f"sum({name}) AS {name}"


COUNTERS = ", ".join(COUNTER_FIELDS)
AVERAGE_OF_SUMS = """CASE
    WHEN payment_statistics.processing_time_count + excluded.processing_time_count = 0 THEN 0
    ELSE (payment_statistics.processing_time_total + excluded.processing_time_total)
        / (payment_statistics.processing_time_count + excluded.processing_time_count)
END"""

# Rows are written in key order, so two folders never wait on each other in a cycle.
UPSERT_MOVED = f"""
INSERT INTO payment_statistics ({KEY_COLUMNS}, {COUNTERS},
    average_processing_time, created_at, updated_at)
SELECT {KEY_COLUMNS}, {COUNTERS},
    CASE WHEN processing_time_count = 0 THEN 0
         ELSE processing_time_total / processing_time_count END,
    :now, :now
FROM (
    SELECT {KEY_COLUMNS}, {", ".join(_summed(name) for name in COUNTER_FIELDS)}
    FROM moved GROUP BY {KEY_COLUMNS}
) AS summed
ORDER BY {KEY_COLUMNS}
ON CONFLICT ON CONSTRAINT {ROW_KEY} DO UPDATE SET
    {", ".join(f"{name} = payment_statistics.{name} + excluded.{name}" for name in COUNTER_FIELDS)},
    average_processing_time = {AVERAGE_OF_SUMS},
    updated_at = excluded.updated_at
RETURNING 1
"""


def fold_statement(*, day: bool, merchant: bool, limited: bool, skip_locked: bool) -> str:
    """Fold the oldest pending deltas (of `:day`, of `:merchant_id`, at most `:limit`, as
    asked); the result is one row: deltas moved, rows written."""
    filters = [
        condition
        for wanted, condition in ((day, "date = :day"), (merchant, "merchant_id = :merchant_id"))
        if wanted
    ]
    where = f"WHERE {' AND '.join(filters)}" if filters else ""
    bound = "LIMIT :limit" if limited else ""
    lock = "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"
    return f"""
WITH moved AS (
    DELETE FROM payment_statistics_deltas WHERE id IN (
        SELECT id FROM payment_statistics_deltas {where} ORDER BY id {bound} {lock}
    )
    RETURNING *
),
upserted AS ({UPSERT_MOVED})
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM upserted)
"""
