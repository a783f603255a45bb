"""Escrow: the split of each marketplace payment (commission, seller share, refunds).

The seller's share (`amount`), the commission and the refunds always add up to the captured
amount; the payout at release and the seller's debt after later refunds are kept beside them.
The old `refunded_amount <= amount` rule is dropped: a refund takes money from the commission as
well as from the seller, and after a full refund the seller's share is 0.

No earlier revision wrote escrow rows, so the new constraints hold on every existing database.

Revision ID: c2e6f1b8d4a3
Revises: b1d5e0a7c3f2
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e6f1b8d4a3"
down_revision: str | None = "b1d5e0a7c3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=19, scale=4)

CHECKS = {
    "split": "commission_amount >= 0 AND refunded_amount >= 0 "
    "AND amount + commission_amount + refunded_amount = captured_amount",
    "release_after": "(captured_amount > 0) = (release_after IS NOT NULL)",
    "released_pair": "(released_amount IS NULL) = (released_at IS NULL)",
    "seller_debt": "seller_debt = CASE WHEN released_amount IS NULL THEN 0 "
    "ELSE released_amount - amount END AND seller_debt >= 0",
    "status_amounts": "CASE status WHEN 'held' THEN released_amount IS NULL "
    "WHEN 'cancelled' THEN released_amount IS NULL AND captured_amount = 0 "
    "WHEN 'released' THEN released_amount IS NOT NULL AND seller_debt = 0 "
    "ELSE true END",
}


def upgrade() -> None:
    for name in ("captured_amount", "commission_amount", "seller_debt"):
        op.add_column(
            "escrow_payments",
            sa.Column(name, MONEY, server_default=sa.text("0"), nullable=False),
        )
    op.add_column("escrow_payments", sa.Column("released_amount", MONEY, nullable=True))
    op.alter_column(
        "escrow_payments",
        "release_after",
        existing_type=sa.TIMESTAMP(timezone=True),
        nullable=True,
    )
    op.drop_constraint(op.f("escrow_payments_refunded_range"), "escrow_payments", type_="check")
    # Rows written before this revision keep their seller share; the split is completed from
    # their payment (a row that cannot satisfy the checks below stops the migration rather than
    # being guessed at).
    op.execute(
        "UPDATE escrow_payments e SET captured_amount = t.captured_amount,"
        " commission_amount = t.captured_amount - e.amount - e.refunded_amount,"
        " released_at = CASE WHEN e.status = 'released'"
        " THEN coalesce(e.released_at, e.updated_at) ELSE e.released_at END,"
        " released_amount = CASE WHEN e.status = 'released' OR e.released_at IS NOT NULL"
        " THEN e.amount END"
        " FROM payment_transactions t WHERE t.id = e.payment_transaction_id"
    )
    for name, condition in CHECKS.items():
        op.create_check_constraint(op.f(f"escrow_payments_{name}"), "escrow_payments", condition)
    op.create_index(
        "ix_escrow_payments_merchant_created",
        "escrow_payments",
        ["merchant_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_escrow_payments_merchant_created", table_name="escrow_payments")
    for name in CHECKS:
        op.drop_constraint(op.f(f"escrow_payments_{name}"), "escrow_payments", type_="check")
    op.create_check_constraint(
        op.f("escrow_payments_refunded_range"),
        "escrow_payments",
        "refunded_amount >= 0 AND refunded_amount <= amount",
    )
    op.alter_column(
        "escrow_payments",
        "release_after",
        existing_type=sa.TIMESTAMP(timezone=True),
        nullable=False,
    )
    for name in ("released_amount", "seller_debt", "commission_amount", "captured_amount"):
        op.drop_column("escrow_payments", name)
