"""Daily statistics kept incrementally: non-negative counters, an exact average, and the index
the merchant's report reads through (merchant, date).

No earlier revision wrote statistics rows, so the new constraints hold on every existing
database; `payrelay stats rebuild` fills the table from the payments already there.

Revision ID: d3f7a2c9e5b4
Revises: c2e6f1b8d4a3
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d3f7a2c9e5b4"
down_revision: str | None = "c2e6f1b8d4a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NON_NEGATIVE = (
    "total_requests",
    "successful_payments",
    "failed_payments",
    "total_amount",
    "successful_amount",
    "refunded_amount",
    "processing_time_total",
    "processing_time_count",
)
CHECKS = {
    "counters_non_negative": " AND ".join(f"{column} >= 0" for column in NON_NEGATIVE),
    "average_processing_time_exact": (
        "average_processing_time = CASE WHEN processing_time_count = 0 THEN 0 "
        "ELSE processing_time_total / processing_time_count END"
    ),
}


def upgrade() -> None:
    for name, condition in CHECKS.items():
        op.create_check_constraint(
            op.f(f"payment_statistics_{name}"), "payment_statistics", condition
        )
    op.create_index(
        "ix_payment_statistics_merchant_id_date",
        "payment_statistics",
        ["merchant_id", "date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_statistics_merchant_id_date", table_name="payment_statistics")
    for name in CHECKS:
        op.drop_constraint(op.f(f"payment_statistics_{name}"), "payment_statistics", type_="check")
