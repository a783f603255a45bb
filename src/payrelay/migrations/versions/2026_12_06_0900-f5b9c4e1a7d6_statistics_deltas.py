"""Statistics deltas: payments append what they add to a day's row, and the worker folds the
deltas into `payment_statistics`, so concurrent payments no longer queue on the row's lock.

Nothing is moved on upgrade: the rows already hold every event counted before it. On
downgrade the deltas not yet folded are folded first, so no count is lost either way.

Revision ID: f5b9c4e1a7d6
Revises: e4a8b3d0f6c5
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f5b9c4e1a7d6"
down_revision: str | None = "e4a8b3d0f6c5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(19, 4, asdecimal=True)
COUNTS = ("total_requests", "successful_payments", "failed_payments")
AMOUNTS = ("total_amount", "successful_amount", "refunded_amount", "commission_amount")
COUNTERS = (*COUNTS, *AMOUNTS, "processing_time_total", "processing_time_count")
INTEGERS = (*COUNTS, "processing_time_total", "processing_time_count")

FOLD_ALL = f"""
WITH moved AS (DELETE FROM payment_statistics_deltas RETURNING *),
summed AS (
    SELECT date, merchant_id, gateway_name, currency,
           {", ".join(f"sum({name})::bigint AS {name}" if name in INTEGERS else f"sum({name}) AS {name}" for name in COUNTERS)}
    FROM moved GROUP BY date, merchant_id, gateway_name, currency
)
INSERT INTO payment_statistics (date, merchant_id, gateway_name, currency,
    {", ".join(COUNTERS)}, average_processing_time, created_at, updated_at)
SELECT date, merchant_id, gateway_name, currency, {", ".join(COUNTERS)},
       CASE WHEN processing_time_count = 0 THEN 0
            ELSE processing_time_total / processing_time_count END,
       now(), now()
FROM summed ORDER BY date, merchant_id, gateway_name, currency
ON CONFLICT ON CONSTRAINT uq_payment_statistics_date_merchant_id_gateway_name_currency
DO UPDATE SET
    {", ".join(f"{name} = payment_statistics.{name} + excluded.{name}" for name in COUNTERS)},
    average_processing_time = CASE
        WHEN payment_statistics.processing_time_count + excluded.processing_time_count = 0 THEN 0
        ELSE (payment_statistics.processing_time_total + excluded.processing_time_total)
             / (payment_statistics.processing_time_count + excluded.processing_time_count)
    END,
    updated_at = excluded.updated_at
"""  # noqa: S608 (column names are this file's constants)


def upgrade() -> None:
    op.create_table(
        "payment_statistics_deltas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("gateway_name", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)
            for name in COUNTS
        ),
        *(sa.Column(name, MONEY, server_default=sa.text("0"), nullable=False) for name in AMOUNTS),
        sa.Column(
            "processing_time_total", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "processing_time_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_statistics_deltas")),
    )
    op.create_index(
        "ix_payment_statistics_deltas_merchant_id_date",
        "payment_statistics_deltas",
        ["merchant_id", "date"],
        unique=False,
    )


def downgrade() -> None:
    op.execute(FOLD_ALL)
    op.drop_index(
        "ix_payment_statistics_deltas_merchant_id_date", table_name="payment_statistics_deltas"
    )
    op.drop_table("payment_statistics_deltas")
