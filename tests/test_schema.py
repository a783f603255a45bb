"""The migrated schema carries the source documents' tables, columns, constraints and indexes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

SHOP_DOCUMENT = {
    "payment_requests": {
        "idempotency_key", "order_id", "payment_method", "amount", "status", "gateway_data",
        "response_data", "expires_at",
    },
    "payment_logs": {"payment_request_id", "event_type", "event_data", "gateway_response"},
    "payment_webhooks": {
        "payment_request_id", "gateway_name", "webhook_id", "event_type", "payload", "signature",
        "status", "retry_count",
    },
    "payment_callbacks": {
        "payment_request_id", "callback_url", "payload", "signature", "status",
        "response_status", "retry_count", "next_retry_at",
    },
    "payment_statistics": {
        "date", "gateway_name", "total_requests", "successful_payments", "failed_payments",
        "total_amount", "successful_amount", "average_processing_time",
    },
}  # fmt: skip

MARKETPLACE_DOCUMENT = {
    "id", "gateway_id", "user_id", "listing_id", "order_reference", "gateway_transaction_id",
    "gateway_reference_id", "amount", "currency", "marketplace_commission", "seller_amount",
    "status", "gateway_status", "payment_method", "customer_email", "description",
    "gateway_response", "error_details", "created_at", "updated_at", "authorized_at",
    "captured_at", "failed_at",
    # (+) design §2
    "payment_request_id", "merchant_id", "capture_method", "authorized_amount",
    "captured_amount", "refunded_amount", "voided_at", "authorization_expires_at",
}  # fmt: skip

MARKETPLACE_INDEXES = {
    "idx_payment_transactions_user_id",
    "idx_payment_transactions_listing_id",
    "idx_payment_transactions_status",
    "idx_payment_transactions_gateway_transaction_id",
    "idx_payment_transactions_order_reference",
    "idx_payment_transactions_created_at",
    "uq_payment_transactions_active_user_listing",
}


async def _columns(db, table: str) -> set[str]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name = :t"),
            {"t": table},
        )
        return set(rows.scalars())


@pytest.mark.parametrize(("table", "columns"), SHOP_DOCUMENT.items())
async def test_shop_document_tables(db, table, columns):
    assert columns <= await _columns(db, table)


async def test_marketplace_document_table(db):
    assert await _columns(db, "payment_transactions") >= MARKETPLACE_DOCUMENT
    async with db.session() as session:
        indexes = set(
            (
                await session.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'payment_transactions'"
                    )
                )
            ).scalars()
        )
        constraints = set(
            (
                await session.execute(
                    text(
                        "SELECT conname FROM pg_constraint "
                        "WHERE conrelid = 'payment_transactions'::regclass"
                    )
                )
            ).scalars()
        )
        active_index = await session.scalar(
            text(
                "SELECT indexdef FROM pg_indexes "
                "WHERE indexname = 'uq_payment_transactions_active_user_listing'"
            )
        )
    assert indexes >= MARKETPLACE_INDEXES
    assert {"payment_transactions_amount_positive", "payment_transactions_status_valid"} <= (
        constraints
    )
    assert "UNIQUE" in active_index
    assert "'pending'" in active_index
    assert "'authorized'" in active_index


@pytest.mark.parametrize(
    ("table", "index"),
    [
        ("payment_requests", "ix_payment_requests_order_id"),
        ("payment_requests", "ix_payment_requests_status"),
        ("payment_requests", "ix_payment_requests_created_at"),
        ("payment_logs", "ix_payment_logs_payment_request_id"),
        ("payment_logs", "ix_payment_logs_event_type"),
        ("payment_logs", "ix_payment_logs_created_at"),
        ("payment_webhooks", "ix_payment_webhooks_webhook_id"),
        ("payment_webhooks", "ix_payment_webhooks_status"),
        ("payment_callbacks", "ix_payment_callbacks_next_retry_at"),
        ("payment_statistics", "ix_payment_statistics_date"),
        ("escrow_payments", "ix_escrow_payments_release_due"),
    ],
)
async def test_shop_document_indexes(db, table, index):
    async with db.session() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM pg_indexes WHERE tablename = :t AND indexname = :i"),
            {"t": table, "i": index},
        )
    assert found == 1
