"""Initial schema: every table of design §2 and both source documents.

Revision ID: f389e4832d64
Revises:
Create Date: 2026-11-22 00:11:25.753775
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f389e4832d64"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION payment_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("callback_secret", sa.String(length=255), nullable=False),
        sa.Column("previous_callback_secret", sa.String(length=255), nullable=True),
        sa.Column(
            "previous_callback_secret_expires_at", sa.TIMESTAMP(timezone=True), nullable=True
        ),
        sa.Column(
            "commission_rate",
            sa.Numeric(precision=7, scale=6),
            server_default=sa.text("0.05"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("merchants_status_valid")),
        sa.CheckConstraint(
            "commission_rate >= 0 AND commission_rate < 1",
            name=op.f("merchants_commission_rate_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.CHAR(length=64), nullable=False),
        sa.Column(
            "scopes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[\"payments\"]'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_api_keys_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_merchant_id", "api_keys", ["merchant_id"], unique=False)
    op.create_table(
        "payment_gateways",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("base_url", sa.String(length=2048), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_gateways_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_gateways")),
        sa.UniqueConstraint(
            "merchant_id", "code", name=op.f("uq_payment_gateways_merchant_id_code")
        ),
    )
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.CHAR(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("payment_method", sa.String(length=50), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("gateway_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed', 'cancelled', 'expired')",
            name=op.f("payment_requests_status_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("payment_requests_amount_positive")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_requests_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint(
            "merchant_id",
            "idempotency_key",
            name=op.f("uq_payment_requests_merchant_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_payment_requests_created_at", "payment_requests", ["created_at"], unique=False
    )
    op.create_index(
        "ix_payment_requests_merchant_created",
        "payment_requests",
        ["merchant_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_payment_requests_merchant_order",
        "payment_requests",
        ["merchant_id", "order_id"],
        unique=False,
    )
    op.create_index("ix_payment_requests_order_id", "payment_requests", ["order_id"], unique=False)
    op.create_index("ix_payment_requests_status", "payment_requests", ["status"], unique=False)
    op.create_table(
        "payment_statistics",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("gateway_name", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_requests", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("successful_payments", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_payments", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "total_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "successful_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "refunded_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "commission_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "average_processing_time", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
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
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_statistics_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_statistics")),
        sa.UniqueConstraint(
            "date",
            "merchant_id",
            "gateway_name",
            "currency",
            name=op.f("uq_payment_statistics_date_merchant_id_gateway_name_currency"),
        ),
    )
    op.create_index(
        "ix_payment_statistics_created_at", "payment_statistics", ["created_at"], unique=False
    )
    op.create_index("ix_payment_statistics_date", "payment_statistics", ["date"], unique=False)
    op.create_index(
        "ix_payment_statistics_gateway_name", "payment_statistics", ["gateway_name"], unique=False
    )
    op.create_table(
        "payment_callbacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_request_id", sa.Uuid(), nullable=True),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_retry_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivering', 'delivered', 'failed', 'dead')",
            name=op.f("payment_callbacks_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_callbacks_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_callbacks_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_callbacks")),
    )
    op.create_index(
        "ix_payment_callbacks_created_at", "payment_callbacks", ["created_at"], unique=False
    )
    op.create_index(
        "ix_payment_callbacks_merchant_id",
        "payment_callbacks",
        ["merchant_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_payment_callbacks_next_retry_at", "payment_callbacks", ["next_retry_at"], unique=False
    )
    op.create_index(
        "ix_payment_callbacks_payment_request_id",
        "payment_callbacks",
        ["payment_request_id"],
        unique=False,
    )
    op.create_index("ix_payment_callbacks_status", "payment_callbacks", ["status"], unique=False)
    op.create_table(
        "payment_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payment_request_id", sa.Uuid(), nullable=True),
        sa.Column("payment_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("gateway_response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payment_logs_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_logs_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_logs")),
    )
    op.create_index("ix_payment_logs_created_at", "payment_logs", ["created_at"], unique=False)
    op.create_index("ix_payment_logs_event_type", "payment_logs", ["event_type"], unique=False)
    op.create_index("ix_payment_logs_merchant_id", "payment_logs", ["merchant_id"], unique=False)
    op.create_index(
        "ix_payment_logs_payment_request_id", "payment_logs", ["payment_request_id"], unique=False
    )
    op.create_table(
        "payment_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("listing_id", sa.String(length=64), nullable=True),
        sa.Column("order_reference", sa.String(length=255), nullable=False),
        sa.Column("gateway_transaction_id", sa.String(length=255), nullable=True),
        sa.Column("gateway_reference_id", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="RSD", nullable=False),
        sa.Column("marketplace_commission", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("seller_amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("status", sa.String(length=50), server_default="pending", nullable=False),
        sa.Column("gateway_status", sa.String(length=50), nullable=True),
        sa.Column("payment_method", sa.String(length=50), nullable=True),
        sa.Column("customer_email", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("gateway_response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("authorized_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("captured_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("failed_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("payment_request_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("capture_method", sa.String(length=20), nullable=False),
        sa.Column(
            "authorized_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "captured_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "refunded_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("voided_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("authorization_expires_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("seller_id", sa.String(length=64), nullable=True),
        sa.Column("next_action", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capture_method IN ('automatic', 'manual')",
            name=op.f("payment_transactions_capture_method_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'authorized', 'captured', 'partially_refunded', 'refunded', 'voided', 'failed', 'expired', 'cancelled')",
            name=op.f("payment_transactions_status_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("payment_transactions_amount_positive")),
        sa.CheckConstraint(
            "authorized_amount >= 0 AND authorized_amount <= amount",
            name=op.f("payment_transactions_authorized_range"),
        ),
        sa.CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= authorized_amount",
            name=op.f("payment_transactions_captured_range"),
        ),
        sa.CheckConstraint(
            "marketplace_commission >= 0 AND seller_amount >= 0 AND marketplace_commission + seller_amount = amount",
            name=op.f("payment_transactions_commission_split"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= captured_amount",
            name=op.f("payment_transactions_refunded_range"),
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["payment_gateways.id"],
            name=op.f("fk_payment_transactions_gateway_id_payment_gateways"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_transactions_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_transactions_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_transactions")),
    )
    op.create_index(
        "idx_payment_transactions_created_at", "payment_transactions", ["created_at"], unique=False
    )
    op.create_index(
        "idx_payment_transactions_gateway_transaction_id",
        "payment_transactions",
        ["gateway_transaction_id"],
        unique=False,
    )
    op.create_index(
        "idx_payment_transactions_listing_id", "payment_transactions", ["listing_id"], unique=False
    )
    op.create_index(
        "idx_payment_transactions_order_reference",
        "payment_transactions",
        ["order_reference"],
        unique=True,
    )
    op.create_index(
        "idx_payment_transactions_status", "payment_transactions", ["status"], unique=False
    )
    op.create_index(
        "idx_payment_transactions_user_id", "payment_transactions", ["user_id"], unique=False
    )
    op.create_index(
        "ix_payment_transactions_authorization_expiring",
        "payment_transactions",
        ["authorization_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'authorized'"),
    )
    op.create_index(
        "ix_payment_transactions_expiring",
        "payment_transactions",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_payment_transactions_gateway_id", "payment_transactions", ["gateway_id"], unique=False
    )
    op.create_index(
        "ix_payment_transactions_merchant_id",
        "payment_transactions",
        ["merchant_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_payment_transactions_payment_request_id",
        "payment_transactions",
        ["payment_request_id"],
        unique=False,
    )
    op.create_index(
        "ix_payment_transactions_user_listing_recent",
        "payment_transactions",
        ["merchant_id", "user_id", "listing_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("user_id IS NOT NULL AND listing_id IS NOT NULL"),
    )
    op.create_index(
        "uq_payment_transactions_active_user_listing",
        "payment_transactions",
        ["merchant_id", "user_id", "listing_id"],
        unique=True,
        postgresql_where=sa.text(
            "status IN ('pending', 'authorized') AND user_id IS NOT NULL AND listing_id IS NOT NULL"
        ),
    )
    op.create_table(
        "payment_webhooks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payment_request_id", sa.Uuid(), nullable=True),
        sa.Column("gateway_account_id", sa.Integer(), nullable=True),
        sa.Column("gateway_name", sa.String(length=32), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("raw_body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="received", nullable=False),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("processed_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'ignored', 'rejected', 'failed')",
            name=op.f("payment_webhooks_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["gateway_account_id"],
            ["payment_gateways.id"],
            name=op.f("fk_payment_webhooks_gateway_account_id_payment_gateways"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_webhooks_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_webhooks")),
        sa.UniqueConstraint(
            "gateway_account_id",
            "webhook_id",
            name=op.f("uq_payment_webhooks_gateway_account_id_webhook_id"),
        ),
    )
    op.create_index(
        "ix_payment_webhooks_created_at", "payment_webhooks", ["created_at"], unique=False
    )
    op.create_index(
        "ix_payment_webhooks_gateway_name", "payment_webhooks", ["gateway_name"], unique=False
    )
    op.create_index(
        "ix_payment_webhooks_payment_request_id",
        "payment_webhooks",
        ["payment_request_id"],
        unique=False,
    )
    op.create_index("ix_payment_webhooks_status", "payment_webhooks", ["status"], unique=False)
    op.create_index(
        "ix_payment_webhooks_webhook_id", "payment_webhooks", ["webhook_id"], unique=False
    )
    op.create_table(
        "sandbox_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("create_idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payment_reference", sa.Uuid(), nullable=False),
        sa.Column("order_reference", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capture_method", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "captured_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "refunded_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("notify_url", sa.Text(), nullable=False),
        sa.Column(
            "operations",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payment_gateways.id"],
            name=op.f("fk_sandbox_transactions_account_id_payment_gateways"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_transactions")),
        sa.UniqueConstraint(
            "account_id",
            "create_idempotency_key",
            name=op.f("uq_sandbox_transactions_account_id_create_idempotency_key"),
        ),
        sa.UniqueConstraint(
            "payment_reference", name=op.f("uq_sandbox_transactions_payment_reference")
        ),
    )
    op.create_table(
        "escrow_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payment_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "refunded_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="held", nullable=False),
        sa.Column("release_after", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("released_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('held', 'released', 'refunded', 'cancelled')",
            name=op.f("escrow_payments_status_valid"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("escrow_payments_amount_non_negative")),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount",
            name=op.f("escrow_payments_refunded_range"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_escrow_payments_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["payment_transaction_id"],
            ["payment_transactions.id"],
            name=op.f("fk_escrow_payments_payment_transaction_id_payment_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_payments")),
        sa.UniqueConstraint(
            "payment_transaction_id", name=op.f("uq_escrow_payments_payment_transaction_id")
        ),
    )
    op.create_index(
        "ix_escrow_payments_release_due",
        "escrow_payments",
        ["release_after"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_index(
        "ix_escrow_payments_seller_status",
        "escrow_payments",
        ["merchant_id", "seller_id", "status"],
        unique=False,
    )
    op.create_table(
        "payment_operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("gateway_operation_id", sa.String(length=255), nullable=True),
        sa.Column("gateway_idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_check_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('create', 'capture', 'void', 'refund')",
            name=op.f("payment_operations_kind_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'unknown')",
            name=op.f("payment_operations_status_valid"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("payment_operations_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payment_operations_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_transaction_id"],
            ["payment_transactions.id"],
            name=op.f("fk_payment_operations_payment_transaction_id_payment_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_operations")),
    )
    op.create_index(
        "ix_payment_operations_transaction_id",
        "payment_operations",
        ["payment_transaction_id"],
        unique=False,
    )
    op.create_index(
        "ix_payment_operations_unresolved",
        "payment_operations",
        ["next_check_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'unknown')"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_method", sa.String(length=10), nullable=False),
        sa.Column("request_path", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.CHAR(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("recovery_point", sa.String(length=32), nullable=False),
        sa.Column("locked_until", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("payment_request_id", sa.Uuid(), nullable=True),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "recovery_point IN ('started', 'operation_recorded', 'finished')",
            name=op.f("idempotency_keys_recovery_point_valid"),
        ),
        sa.CheckConstraint(
            "state IN ('in_progress', 'completed')", name=op.f("idempotency_keys_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_idempotency_keys_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["payment_operations.id"],
            name=op.f("fk_idempotency_keys_operation_id_payment_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_idempotency_keys_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("merchant_id", "key", name=op.f("uq_idempotency_keys_merchant_id_key")),
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], unique=False
    )

    # The audit trail is append-only, enforced by the database itself.
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER payment_logs_append_only_row BEFORE UPDATE OR DELETE ON payment_logs "
        "FOR EACH ROW EXECUTE FUNCTION payment_logs_append_only()"
    )
    op.execute(
        "CREATE TRIGGER payment_logs_append_only_truncate BEFORE TRUNCATE ON payment_logs "
        "FOR EACH STATEMENT EXECUTE FUNCTION payment_logs_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS payment_logs_append_only_truncate ON payment_logs")
    op.execute("DROP TRIGGER IF EXISTS payment_logs_append_only_row ON payment_logs")
    op.execute("DROP FUNCTION IF EXISTS payment_logs_append_only()")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(
        "ix_payment_operations_unresolved",
        table_name="payment_operations",
        postgresql_where=sa.text("status IN ('pending', 'unknown')"),
    )
    op.drop_index("ix_payment_operations_transaction_id", table_name="payment_operations")
    op.drop_table("payment_operations")
    op.drop_index("ix_escrow_payments_seller_status", table_name="escrow_payments")
    op.drop_index(
        "ix_escrow_payments_release_due",
        table_name="escrow_payments",
        postgresql_where=sa.text("status = 'held'"),
    )
    op.drop_table("escrow_payments")
    op.drop_table("sandbox_transactions")
    op.drop_index("ix_payment_webhooks_webhook_id", table_name="payment_webhooks")
    op.drop_index("ix_payment_webhooks_status", table_name="payment_webhooks")
    op.drop_index("ix_payment_webhooks_payment_request_id", table_name="payment_webhooks")
    op.drop_index("ix_payment_webhooks_gateway_name", table_name="payment_webhooks")
    op.drop_index("ix_payment_webhooks_created_at", table_name="payment_webhooks")
    op.drop_table("payment_webhooks")
    op.drop_index(
        "uq_payment_transactions_active_user_listing",
        table_name="payment_transactions",
        postgresql_where=sa.text(
            "status IN ('pending', 'authorized') AND user_id IS NOT NULL AND listing_id IS NOT NULL"
        ),
    )
    op.drop_index(
        "ix_payment_transactions_user_listing_recent",
        table_name="payment_transactions",
        postgresql_where=sa.text("user_id IS NOT NULL AND listing_id IS NOT NULL"),
    )
    op.drop_index("ix_payment_transactions_payment_request_id", table_name="payment_transactions")
    op.drop_index("ix_payment_transactions_merchant_id", table_name="payment_transactions")
    op.drop_index("ix_payment_transactions_gateway_id", table_name="payment_transactions")
    op.drop_index(
        "ix_payment_transactions_expiring",
        table_name="payment_transactions",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        "ix_payment_transactions_authorization_expiring",
        table_name="payment_transactions",
        postgresql_where=sa.text("status = 'authorized'"),
    )
    op.drop_index("idx_payment_transactions_user_id", table_name="payment_transactions")
    op.drop_index("idx_payment_transactions_status", table_name="payment_transactions")
    op.drop_index("idx_payment_transactions_order_reference", table_name="payment_transactions")
    op.drop_index("idx_payment_transactions_listing_id", table_name="payment_transactions")
    op.drop_index(
        "idx_payment_transactions_gateway_transaction_id", table_name="payment_transactions"
    )
    op.drop_index("idx_payment_transactions_created_at", table_name="payment_transactions")
    op.drop_table("payment_transactions")
    op.drop_index("ix_payment_logs_payment_request_id", table_name="payment_logs")
    op.drop_index("ix_payment_logs_merchant_id", table_name="payment_logs")
    op.drop_index("ix_payment_logs_event_type", table_name="payment_logs")
    op.drop_index("ix_payment_logs_created_at", table_name="payment_logs")
    op.drop_table("payment_logs")
    op.drop_index("ix_payment_callbacks_status", table_name="payment_callbacks")
    op.drop_index("ix_payment_callbacks_payment_request_id", table_name="payment_callbacks")
    op.drop_index("ix_payment_callbacks_next_retry_at", table_name="payment_callbacks")
    op.drop_index("ix_payment_callbacks_merchant_id", table_name="payment_callbacks")
    op.drop_index("ix_payment_callbacks_created_at", table_name="payment_callbacks")
    op.drop_table("payment_callbacks")
    op.drop_index("ix_payment_statistics_gateway_name", table_name="payment_statistics")
    op.drop_index("ix_payment_statistics_date", table_name="payment_statistics")
    op.drop_index("ix_payment_statistics_created_at", table_name="payment_statistics")
    op.drop_table("payment_statistics")
    op.drop_index("ix_payment_requests_status", table_name="payment_requests")
    op.drop_index("ix_payment_requests_order_id", table_name="payment_requests")
    op.drop_index("ix_payment_requests_merchant_order", table_name="payment_requests")
    op.drop_index("ix_payment_requests_merchant_created", table_name="payment_requests")
    op.drop_index("ix_payment_requests_created_at", table_name="payment_requests")
    op.drop_table("payment_requests")
    op.drop_table("payment_gateways")
    op.drop_index("ix_api_keys_merchant_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("merchants")
