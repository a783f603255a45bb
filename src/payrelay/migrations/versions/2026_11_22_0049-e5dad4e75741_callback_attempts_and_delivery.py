"""Worker queues: callback attempts, due-callback and pending-webhook indexes, per-payment
callback sequence, disabled callback URLs, the janitor's status checks.

Revision ID: e5dad4e75741
Revises: f389e4832d64
Create Date: 2026-11-22 00:49:17.591889
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5dad4e75741"
down_revision: str | None = "f389e4832d64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("callback_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["payment_callbacks.id"],
            name=op.f("fk_callback_attempts_callback_id_payment_callbacks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
    )
    op.create_index(
        "ix_callback_attempts_callback_id", "callback_attempts", ["callback_id"], unique=False
    )
    op.add_column(
        "merchants",
        sa.Column("callback_url_disabled_at", sa.TIMESTAMP(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_payment_callbacks_due",
        "payment_callbacks",
        ["next_retry_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'failed', 'delivering')"),
    )
    op.add_column(
        "payment_transactions",
        sa.Column("status_checks", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "payment_transactions",
        sa.Column("next_status_check_at", sa.TIMESTAMP(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_payment_transactions_status_check",
        "payment_transactions",
        ["next_status_check_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_payment_webhooks_pending",
        "payment_webhooks",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status IN ('received', 'failed')"),
    )
    op.create_unique_constraint(
        op.f("uq_payment_callbacks_payment_request_id_sequence"),
        "payment_callbacks",
        ["payment_request_id", "sequence"],
    )


def downgrade() -> None:
    op.drop_index("ix_payment_transactions_status_check", table_name="payment_transactions")
    op.drop_column("payment_transactions", "next_status_check_at")
    op.drop_column("payment_transactions", "status_checks")
    op.drop_index("ix_payment_webhooks_pending", table_name="payment_webhooks")
    op.drop_constraint(
        op.f("uq_payment_callbacks_payment_request_id_sequence"),
        "payment_callbacks",
        type_="unique",
    )
    op.drop_index(
        "ix_payment_callbacks_due",
        table_name="payment_callbacks",
        postgresql_where=sa.text("status IN ('pending', 'failed', 'delivering')"),
    )
    op.drop_column("merchants", "callback_url_disabled_at")
    op.drop_index("ix_callback_attempts_callback_id", table_name="callback_attempts")
    op.drop_table("callback_attempts")
