"""Existing payments, seeded with set-based SQL (`INSERT ... SELECT` over `generate_series`).

Each seeded payment is what payrelay would have written for a finished sandbox payment: the
request, its transaction (captured, refunded, failed, expired or voided, with amounts that
satisfy every CHECK), the `create` operation, the create's idempotency key, two audit rows, and
the daily statistics counting it. Only finished payments are seeded, so the worker's periodic
jobs (expiry, janitor, auto-void) find nothing to do in them during a measurement. Ids are
UUIDv7 from each payment's time, as payrelay makes them.

Rows go through the tables' own names (`payment_logs` may be partitioned: a row whose month
has no partition is written with the seeding time instead, which the report notes).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bench.console import say

BATCH = 100_000
SEEDED_TABLES = (
    "payment_requests",
    "payment_transactions",
    "payment_operations",
    "idempotency_keys",
    "payment_logs",
    "payment_statistics",
)

UUID7 = """
CREATE OR REPLACE FUNCTION pg_temp.bench_uuid7(at timestamptz) RETURNS uuid
LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              placing substring(int8send((extract(epoch FROM at) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$
"""

BATCH_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS seed_batch (
  n bigint, created_at timestamptz, request_id uuid, operation_id uuid, key_id uuid,
  transaction_id bigint, amount numeric, status text, commission numeric, authorized numeric,
  captured numeric, refunded numeric)
"""

# $1 first index, $2 last index, $3 start of the span, $4 span length, $5 commission rate
BATCH_ROWS = """
INSERT INTO seed_batch
SELECT n, created_at,
       pg_temp.bench_uuid7(created_at) AS request_id,
       pg_temp.bench_uuid7(created_at) AS operation_id,
       pg_temp.bench_uuid7(created_at) AS key_id,
       nextval(pg_get_serial_sequence('payment_transactions', 'id')) AS transaction_id,
       amount, status,
       floor(amount * $5::numeric) AS commission,
       CASE WHEN status IN ('captured', 'partially_refunded', 'refunded', 'voided')
            THEN amount ELSE 0 END AS authorized,
       CASE WHEN status IN ('captured', 'partially_refunded', 'refunded')
            THEN amount ELSE 0 END AS captured,
       CASE status WHEN 'refunded' THEN amount
                   WHEN 'partially_refunded' THEN floor(amount / 2) ELSE 0 END AS refunded
FROM (
  SELECT n,
         $3::timestamptz
           + $4::interval * ((n - $1::bigint)::float8 / greatest($2::bigint - $1::bigint + 1, 1))
           AS created_at,
         (10000 + (n * 7919) % 990000)::numeric AS amount,
         CASE WHEN n % 100 < 70 THEN 'captured'
              WHEN n % 100 < 75 THEN 'partially_refunded'
              WHEN n % 100 < 80 THEN 'refunded'
              WHEN n % 100 < 90 THEN 'failed'
              WHEN n % 100 < 97 THEN 'expired'
              ELSE 'voided' END AS status
  FROM generate_series($1::bigint, $2::bigint) AS n
) AS generated
"""

REQUESTS = """
INSERT INTO payment_requests (
  id, merchant_id, idempotency_key, request_fingerprint, order_id, payment_method, amount,
  currency, status, gateway_data, expires_at, created_at, updated_at)
SELECT request_id, $1::uuid, 'seed-' || n, md5('fingerprint' || n) || md5('seed' || n),
       'seed-order-' || n, 'sandbox', amount, 'VND',
       CASE WHEN status IN ('captured', 'partially_refunded', 'refunded') THEN 'completed'
            WHEN status = 'voided' THEN 'cancelled' ELSE status END,
       jsonb_build_object('gateway', 'sandbox', 'account_id', $2::int),
       created_at + interval '1 hour', created_at, created_at + interval '5 seconds'
FROM seed_batch
"""

TRANSACTIONS = """
INSERT INTO payment_transactions (
  id, gateway_id, user_id, listing_id, order_reference, gateway_transaction_id,
  gateway_reference_id, amount, currency, marketplace_commission, seller_amount, status,
  gateway_status, payment_method, description, error_details, created_at, updated_at,
  authorized_at, captured_at, failed_at, payment_request_id, merchant_id, capture_method,
  authorized_amount, captured_amount, refunded_amount, received_amount, voided_at, expires_at,
  status_checks)
SELECT transaction_id, $2::int, 'seed-user-' || (n % 50000), 'seed-listing-' || n,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYYMMDD') || '-seed-user-' || (n % 50000)
         || '-seed' || n,
       'sbx_seed_' || n, 'seed-order-' || n, amount, 'VND', commission, amount - commission,
       status, upper(status), 'card', 'seeded payment',
       CASE WHEN status = 'failed' THEN jsonb_build_object(
         'code', 'card_declined', 'message', 'Declined by the sandbox') END,
       created_at, created_at + interval '5 seconds',
       CASE WHEN authorized > 0 THEN created_at + interval '3 seconds' END,
       CASE WHEN captured > 0 THEN created_at + interval '3 seconds' END,
       CASE WHEN status = 'failed' THEN created_at + interval '3 seconds' END,
       request_id, $1::uuid, CASE WHEN status = 'voided' THEN 'manual' ELSE 'automatic' END,
       authorized, captured, refunded, 0,
       CASE WHEN status = 'voided' THEN created_at + interval '1 day' END,
       created_at + interval '1 hour', 0
FROM seed_batch
"""

OPERATIONS = """
INSERT INTO payment_operations (
  id, payment_transaction_id, merchant_id, kind, amount, status, gateway_operation_id,
  gateway_idempotency_key, attempts, created_at, updated_at, completed_at)
SELECT operation_id, transaction_id, $1::uuid, 'create', amount, 'succeeded', 'sbx_seed_' || n,
       'payrelay-' || operation_id, 1, created_at, created_at + interval '1 second',
       created_at + interval '1 second'
FROM seed_batch
"""

KEYS = """
INSERT INTO idempotency_keys (
  id, merchant_id, key, request_method, request_path, fingerprint, state, recovery_point,
  payment_request_id, operation_id, response_status, response_body, created_at, completed_at)
SELECT key_id, $1::uuid, 'seed-' || n, 'POST', 'payments.create',
       md5('fingerprint' || n) || md5('seed' || n), 'completed', 'finished', request_id,
       operation_id, 201,
       jsonb_build_object('id', request_id, 'order_id', 'seed-order-' || n, 'status', 'pending',
                          'gateway', 'sandbox', 'amount', amount::text, 'currency', 'VND'),
       created_at, created_at + interval '1 second'
FROM seed_batch
"""

# $2: true writes the audit rows at each payment's time, false at the seeding time
LOGS = """
INSERT INTO payment_logs (
  payment_request_id, payment_transaction_id, merchant_id, event_type, event_data, actor,
  created_at)
SELECT request_id, transaction_id, $1::uuid, 'payment.created',
       jsonb_build_object('order_id', 'seed-order-' || n, 'gateway', 'sandbox',
                          'amount', amount::text, 'currency', 'VND'),
       'merchant', CASE WHEN $2::bool THEN created_at ELSE now() END
FROM seed_batch
UNION ALL
SELECT request_id, transaction_id, $1::uuid, 'payment.' || status,
       jsonb_build_object('status', status), 'gateway',
       CASE WHEN $2::bool THEN created_at + interval '3 seconds' ELSE now() END
FROM seed_batch
"""

STATISTICS = """
INSERT INTO payment_statistics AS s (
  date, merchant_id, gateway_name, currency, total_requests, successful_payments,
  failed_payments, total_amount, successful_amount, refunded_amount, commission_amount,
  average_processing_time, processing_time_total, processing_time_count)
SELECT (created_at AT TIME ZONE $2)::date, $1::uuid, 'sandbox', 'VND', count(*),
       count(*) FILTER (WHERE captured > 0), count(*) FILTER (WHERE status = 'failed'),
       sum(amount), sum(captured), sum(refunded),
       coalesce(sum(commission) FILTER (WHERE captured > 0), 0),
       CASE WHEN count(*) FILTER (WHERE captured > 0) = 0 THEN 0 ELSE 3 END,
       3 * count(*) FILTER (WHERE captured > 0), count(*) FILTER (WHERE captured > 0)
FROM seed_batch
GROUP BY 1
ON CONFLICT (date, merchant_id, gateway_name, currency) DO UPDATE SET
  total_requests = s.total_requests + excluded.total_requests,
  successful_payments = s.successful_payments + excluded.successful_payments,
  failed_payments = s.failed_payments + excluded.failed_payments,
  total_amount = s.total_amount + excluded.total_amount,
  successful_amount = s.successful_amount + excluded.successful_amount,
  refunded_amount = s.refunded_amount + excluded.refunded_amount,
  commission_amount = s.commission_amount + excluded.commission_amount,
  processing_time_total = s.processing_time_total + excluded.processing_time_total,
  processing_time_count = s.processing_time_count + excluded.processing_time_count,
  average_processing_time = (s.processing_time_total + excluded.processing_time_total)
    / greatest(s.processing_time_count + excluded.processing_time_count, 1),
  updated_at = now()
"""


@dataclass(frozen=True, slots=True)
class Owner:
    merchant_id: uuid.UUID
    account_id: int
    commission_rate: Decimal = Decimal("0.05")
    timezone: str = "UTC"


@dataclass
class SeedReport:
    payments: int = 0
    seconds: float = 0.0
    logs_at_seeding_time: bool = False


async def seed_payments(
    connection: Any, owner: Owner, *, first: int, count: int, days: int, report: SeedReport
) -> None:
    """Seed payments numbered `first` .. `first + count - 1`, spread over the last `days`."""
    if count <= 0:
        return
    started = time.monotonic()
    await connection.execute(UUID7)
    await connection.execute(BATCH_TABLE)
    span = timedelta(days=days)
    start = datetime.now(UTC) - span - timedelta(minutes=5)
    last = first + count - 1
    for low in range(first, last + 1, BATCH):
        high = min(low + BATCH - 1, last)
        # Each batch covers its share of the span, so the whole call spreads evenly over it.
        batch_start = start + span * ((low - first) / count)
        batch_span = span * ((high - low + 1) / count)
        await _seed_batch(connection, owner, (low, high, batch_start, batch_span), report)
        done = high - first + 1
        rate = done / max(time.monotonic() - started, 1e-9)
        say(f"  seeded {done:,}/{count:,} payments ({rate:,.0f}/s)")
    report.payments += count
    report.seconds += time.monotonic() - started


async def _seed_batch(
    connection: Any,
    owner: Owner,
    batch: tuple[int, int, datetime, timedelta],
    report: SeedReport,
) -> None:
    merchant = owner.merchant_id
    async with connection.transaction():
        await connection.execute("TRUNCATE seed_batch")
        await connection.execute(BATCH_ROWS, *batch, owner.commission_rate)
        await connection.execute(REQUESTS, merchant, owner.account_id)
        await connection.execute(TRANSACTIONS, merchant, owner.account_id)
        await connection.execute(OPERATIONS, merchant)
        await connection.execute(KEYS, merchant)
        await _insert_logs(connection, merchant, report)
        await connection.execute(STATISTICS, merchant, owner.timezone)


async def _insert_logs(connection: Any, merchant: uuid.UUID, report: SeedReport) -> None:
    if not report.logs_at_seeding_time:
        try:
            async with connection.transaction():  # a savepoint
                await connection.execute(LOGS, merchant, True)
            return
        except asyncpg.CheckViolationError as exc:
            if "no partition" not in str(exc):
                raise
            say(
                "  payment_logs has no partition for the seeded months: audit rows are written "
                "with the seeding time"
            )
            report.logs_at_seeding_time = True
    await connection.execute(LOGS, merchant, False)


async def settle(connection: Any) -> None:
    """What a database that grew over months looks like: vacuumed, analysed, checkpointed."""
    started = time.monotonic()
    for table in SEEDED_TABLES:
        await connection.execute(f"VACUUM (ANALYZE) {table}")
    try:
        await connection.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        say("  CHECKPOINT needs a superuser: skipped")
    say(f"  vacuumed and analysed in {time.monotonic() - started:.1f}s")
