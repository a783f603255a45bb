"""Retention: payment_logs range-partitioned by month, archive tables, and archiving as the one
sanctioned way an audit row leaves payment_logs.

- payment_logs becomes `PARTITION BY RANGE (created_at)`: one partition per month
  (`payment_logs_pYYYYMM`) from the oldest row to three months ahead, plus a DEFAULT partition so
  an insert never fails; the worker keeps the coming months created (retention/tasks.py). Its
  primary key becomes (id, created_at): a unique key on a partitioned table must contain the
  partition key. Existing rows are copied over and the identity sequence carries on.
- `<table>_archive` for every table a payment's rows live in: the live table's columns (LIKE),
  no foreign keys, a primary key on id and the indexes that find an archived payment.
- idempotency_keys indexed by payment and by operation: its keys stay live while those rows are
  archived, and each deleted row's foreign-key check (and the in-progress check) must be a probe.
- The append-only trigger now lets a payment_logs row be deleted only (a) while the transaction
  runs `payrelay archive` (`SET LOCAL payrelay.archiving = 'on'`) and its copy is already in
  payment_logs_archive, or (b) when the worker moves it from the DEFAULT partition into its
  month's new partition (`payrelay.rehoming` names that table) and the copy is there. UPDATE and
  TRUNCATE stay refused, on every partition and on payment_logs_archive (which never loses rows).

Revision ID: e4a8b3d0f6c5
Revises: d3f7a2c9e5b4
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e4a8b3d0f6c5"
down_revision: str | None = "d3f7a2c9e5b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3

LOG_COLUMNS = (
    "id, payment_request_id, payment_transaction_id, merchant_id, event_type, event_data,"
    " gateway_response, actor, request_id, created_at"
)
LOG_INDEXES = {
    "ix_payment_logs_payment_request_id": "payment_request_id",
    "ix_payment_logs_event_type": "event_type",
    "ix_payment_logs_created_at": "created_at",
    "ix_payment_logs_merchant_id": "merchant_id",
}

# Live table -> the column lists indexed on its archive (besides the primary key on id).
ARCHIVED: dict[str, tuple[tuple[str, ...], ...]] = {
    "payment_requests": (("merchant_id", "order_id"),),
    "payment_transactions": (("payment_request_id",), ("order_reference",), ("created_at",)),
    "payment_operations": (("payment_transaction_id",),),
    "escrow_payments": (("payment_transaction_id",),),
    "payment_logs": (("payment_request_id",),),
    "payment_webhooks": (("payment_request_id",), ("gateway_account_id", "webhook_id")),
    "payment_callbacks": (("payment_request_id",),),
    "callback_attempts": (("callback_id",),),
}

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION payment_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target text;
    copied boolean := false;
BEGIN
    IF TG_OP = 'DELETE' AND TG_ARGV[0] = 'payment_logs' THEN
        IF current_setting('payrelay.archiving', true) = 'on' THEN
            copied := EXISTS (SELECT 1 FROM payment_logs_archive a WHERE a.id = OLD.id);
        END IF;
        target := current_setting('payrelay.rehoming', true);
        IF NOT copied AND TG_TABLE_NAME = 'payment_logs_default'
                AND target ~ '^payment_logs_p[0-9]{6}$' THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE id = $1 AND created_at = $2)',
                           target)
                INTO copied USING OLD.id, OLD.created_at;
        END IF;
        IF copied THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_ARGV[0], TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

ORIGINAL_FUNCTION = """
CREATE OR REPLACE FUNCTION payment_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _protect(table: str, name: str, *, rows: bool) -> None:
    """Refuse TRUNCATE on `table` (statement triggers are not inherited by partitions, so each
    partition gets its own) and, with `rows`, UPDATE and DELETE."""
    if rows:
        op.execute(
            f"CREATE TRIGGER {table}_append_only_row BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION payment_logs_append_only('{name}')"
        )
    op.execute(
        f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION payment_logs_append_only('{name}')"
    )


def _log_columns() -> list[sa.Column[object]]:
    return [
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
            ["merchant_id"], ["merchants.id"], name="fk_payment_logs_merchant_id_merchants"
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name="fk_payment_logs_payment_request_id_payment_requests",
        ),
    ]


def _set_aside_logs(suffix: str) -> None:
    """Rename payment_logs, its primary key, indexes and identity sequence out of the way."""
    op.execute("DROP TRIGGER IF EXISTS payment_logs_append_only_row ON payment_logs")
    op.execute("DROP TRIGGER IF EXISTS payment_logs_append_only_truncate ON payment_logs")
    op.execute(f"ALTER TABLE payment_logs RENAME TO payment_logs_{suffix}")
    op.execute(
        f"ALTER TABLE payment_logs_{suffix} RENAME CONSTRAINT pk_payment_logs "
        f"TO pk_payment_logs_{suffix}"
    )
    for index in LOG_INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_{suffix}")
    op.execute(f"ALTER SEQUENCE payment_logs_id_seq RENAME TO payment_logs_{suffix}_id_seq")


def _copy_logs_from(old: str) -> None:
    # Identifiers here are this file's constants, never input.
    op.execute(f"INSERT INTO payment_logs ({LOG_COLUMNS}) SELECT {LOG_COLUMNS} FROM {old}")  # noqa: S608
    op.execute(f"SELECT setval('payment_logs_id_seq', last_value, is_called) FROM {old}_id_seq")  # noqa: S608
    op.execute(f"DROP TABLE {old}")


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def _create_partitions() -> None:
    """One partition per month from the oldest row to MONTHS_AHEAD months ahead, and DEFAULT."""
    month, last = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT date_trunc('month', coalesce(min(created_at), now()), 'UTC'),"
                " date_trunc('month', now(), 'UTC') FROM payment_logs_unpartitioned"
            )
        )
        .one()
    )
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while month <= last:
        end = _next_month(month)
        name = f"payment_logs_p{month:%Y%m}"
        op.execute(
            f"CREATE TABLE {name} PARTITION OF payment_logs "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
        )
        _protect(name, "payment_logs", rows=False)
        month = end
    op.execute("CREATE TABLE payment_logs_default PARTITION OF payment_logs DEFAULT")
    _protect("payment_logs_default", "payment_logs", rows=False)


def upgrade() -> None:
    _set_aside_logs("unpartitioned")
    op.create_table(
        "payment_logs",
        *_log_columns(),
        sa.PrimaryKeyConstraint("id", "created_at", name="pk_payment_logs"),
        postgresql_partition_by="RANGE (created_at)",
    )
    for index, column in LOG_INDEXES.items():
        op.create_index(index, "payment_logs", [column], unique=False)
    _create_partitions()
    _copy_logs_from("payment_logs_unpartitioned")

    for live, indexes in ARCHIVED.items():
        archive = f"{live}_archive"
        op.execute(f"CREATE TABLE {archive} (LIKE {live} INCLUDING DEFAULTS)")
        op.create_primary_key(f"pk_{archive}", archive, ["id"])
        for columns in indexes:
            op.create_index(f"ix_{archive}_{'_'.join(columns)}", archive, list(columns))

    for column in ("payment_request_id", "operation_id"):
        op.create_index(f"ix_idempotency_keys_{column}", "idempotency_keys", [column])

    op.execute(APPEND_ONLY_FUNCTION)
    _protect("payment_logs", "payment_logs", rows=True)
    _protect("payment_logs_archive", "payment_logs_archive", rows=True)


def downgrade() -> None:
    bind = op.get_bind()
    for live in ARCHIVED:
        held = bind.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {live}_archive)"))  # noqa: S608
        if held.scalar():
            raise RuntimeError(
                f"{live}_archive holds archived rows: move them back before downgrading"
            )
    for column in ("payment_request_id", "operation_id"):
        op.drop_index(f"ix_idempotency_keys_{column}", table_name="idempotency_keys")
    for live in ARCHIVED:
        op.execute(f"DROP TABLE {live}_archive")
    _set_aside_logs("partitioned")
    op.create_table(
        "payment_logs",
        *_log_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_payment_logs"),
    )
    for index, column in LOG_INDEXES.items():
        op.create_index(index, "payment_logs", [column], unique=False)
    _copy_logs_from("payment_logs_partitioned")
    op.execute(ORIGINAL_FUNCTION)
    op.execute(
        "CREATE TRIGGER payment_logs_append_only_row BEFORE UPDATE OR DELETE ON payment_logs "
        "FOR EACH ROW EXECUTE FUNCTION payment_logs_append_only()"
    )
    op.execute(
        "CREATE TRIGGER payment_logs_append_only_truncate BEFORE TRUNCATE ON payment_logs "
        "FOR EACH STATEMENT EXECUTE FUNCTION payment_logs_append_only()"
    )
