"""Merchant settings for escrow and reporting: the hold period and the reporting time zone.

Revision ID: b1d5e0a7c3f2
Revises: 7c41d2a9e0b3
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1d5e0a7c3f2"
down_revision: str | None = "7c41d2a9e0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "merchants",
        sa.Column("escrow_hold_days", sa.Integer(), server_default=sa.text("14"), nullable=False),
    )
    op.add_column(
        "merchants",
        sa.Column("reporting_timezone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.create_check_constraint(
        op.f("merchants_escrow_hold_days_range"),
        "merchants",
        "escrow_hold_days >= 0 AND escrow_hold_days <= 365",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("merchants_escrow_hold_days_range"), "merchants", type_="check")
    op.drop_column("merchants", "reporting_timezone")
    op.drop_column("merchants", "escrow_hold_days")
