"""A million payments: the hot queries still use indexes or partition pruning.

Its own database (created and dropped here) is seeded set-based: first a small history (1,000
payments), where every hot query is EXPLAINed and timed; then up to 1,000,000 payments with two
audit rows, a create key, a callback and a webhook each, a year of daily statistics, and the
oldest 5,000 payments archived by the real archive job. The same queries are EXPLAINed and timed
again. The queries are the ones the application runs, captured as it sends them. Times go to
stdout (run with `-s`) and to `query_times.json` in the test's tmp folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from payrelay.audit.repository import AuditRepository
from payrelay.callback.repository import DeliveryRepository
from payrelay.idempotency.repository import IdempotencyRepository
from payrelay.kit import migrate
from payrelay.kit.db import AsyncSession, Database, DatabaseOptions
from payrelay.models import ARCHIVES, Merchant, PaymentLog, PaymentTransaction
from payrelay.payment.repository import PaymentFilters, PaymentRepository
from payrelay.retention import service as retention_service
from payrelay.retention import tasks as retention_tasks
from payrelay.statistics.repository import report_query
from payrelay.webhook_in.repository import WebhookRepository

pytestmark = pytest.mark.scale

PAYMENTS = 1_000_000
SMALL = 1_000
MERCHANTS = 50
STEP = timedelta(seconds=30)  # payment i was created i steps before NOW: about a year
ARCHIVED_SMALL = 50  # the oldest of the small history, archived before the first measure
ARCHIVED_BIG = 5_000  # the oldest of the big history, archived before the second
RUNS = 25
NOW = datetime.now(UTC).replace(microsecond=0)

BIG_ROWS = 10_000  # a relation this large must never be read whole by a hot query
SEEDED = (
    "payment_requests",
    "payment_transactions",
    "payment_logs",
    "idempotency_keys",
    "payment_callbacks",
    "payment_webhooks",
)


def _payment(i: int) -> uuid.UUID:
    """Payment i's id as the seed makes it: ascending like the UUIDv7 ids payrelay gives (a
    random id per row would make the bulk load several times slower)."""
    return uuid.UUID("1" + format(i, "031x"))


def _merchant(i: int) -> uuid.UUID:
    """The merchant of payment i: md5('m' || i % MERCHANTS)."""
    return uuid.UUID(hashlib.md5(f"m{i % MERCHANTS}".encode()).hexdigest())  # noqa: S324 - an id


# --- seeding ---------------------------------------------------------------------------------

# Ids of payment i's rows: ascending like the UUIDv7 ids payrelay makes.
IDS = {
    prefix: f"('{digit}' || lpad(to_hex(i), 31, '0'))::uuid"
    for prefix, digit in (("payment", 1), ("key", 2), ("callback", 3), ("queued", 4))
}
# Payment i of the seed, created i steps before NOW.
SERIES = (
    "generate_series(CAST(:first AS int), CAST(:last AS int)) i,"
    " LATERAL (SELECT CAST(:now AS timestamptz) - i * CAST(:step AS interval) AS t) x"
)
MERCHANT = f"md5('m' || i % {MERCHANTS})::uuid"
SEED_STATEMENTS = (
    """
    INSERT INTO payment_requests (id, merchant_id, idempotency_key, request_fingerprint,
        order_id, payment_method, amount, currency, status, expires_at, created_at, updated_at)
    SELECT {payment}, {merchant}, 'seed-' || i,
        repeat('0', 64), 'order-' || i, 'sandbox', 10 + i % 1000, 'USD', 'completed',
        t + interval '1 hour', t, t
    FROM {series}
    """,
    """
    INSERT INTO payment_transactions (id, gateway_id, order_reference, amount, currency,
        marketplace_commission, seller_amount, status, gateway_status, payment_method,
        payment_request_id, merchant_id, capture_method, authorized_amount, captured_amount,
        expires_at, created_at, updated_at, authorized_at, captured_at)
    SELECT i, g.id, 'seed-' || i, 10 + i % 1000, 'USD', 0, 10 + i % 1000, 'captured',
        'SUCCEEDED', 'card', {payment}, g.merchant_id, 'automatic', 10 + i % 1000,
        10 + i % 1000, t + interval '1 hour', t, t, t, t
    FROM {series}, payment_gateways g
    WHERE g.merchant_id = {merchant}
    """,
    """
    INSERT INTO payment_logs (payment_request_id, payment_transaction_id, merchant_id,
        event_type, event_data, actor, created_at)
    SELECT {payment}, i, {merchant}, e.event_type,
        jsonb_build_object('status', e.status), e.actor, t + e.after
    FROM {series},
        (VALUES ('payment.created', 'pending', 'merchant', interval '0'),
                ('payment.captured', 'captured', 'gateway', interval '1 second'))
            AS e (event_type, status, actor, after)
    """,
    """
    INSERT INTO idempotency_keys (id, merchant_id, key, request_method, request_path,
        fingerprint, state, recovery_point, payment_request_id, response_status,
        response_body, created_at, completed_at)
    SELECT {key}, {merchant}, 'seed-' || i, 'POST',
        'payments.create', repeat('0', 64), 'completed', 'finished', {payment}, 201,
        '{{}}', t, t
    FROM {series}
    """,
    """
    INSERT INTO payment_callbacks (id, payment_request_id, merchant_id, event_type, sequence,
        callback_url, payload, status, response_status, delivered_at, created_at, updated_at)
    SELECT {callback}, {payment}, {merchant},
        'payment.captured', 1, 'https://shop.example/callbacks', '{{}}', 'delivered', 200,
        t, t, t
    FROM {series}
    """,
    """
    INSERT INTO payment_webhooks (payment_request_id, gateway_account_id, gateway_name,
        webhook_id, event_type, raw_body, headers, status, processed_at, created_at,
        updated_at)
    SELECT {payment}, g.id, 'sandbox', 'evt-' || i, 'payment.succeeded', '\\x7b7d',
        '{{}}', 'processed', t, t, t
    FROM {series}, payment_gateways g
    WHERE g.merchant_id = {merchant}
    """,
)

# The queues as a worker finds them: a few due items among the history.
QUEUE_STATEMENTS = (
    """
    INSERT INTO payment_callbacks (id, payment_request_id, merchant_id, event_type, sequence,
        callback_url, payload, status, next_retry_at, created_at, updated_at)
    SELECT {queued}, {payment}, {merchant},
        'payment.refunded', 2, 'https://shop.example/callbacks', '{{}}', 'pending',
        CAST(:now AS timestamptz) - interval '1 minute', :now, :now
    FROM generate_series(1, 200) i
    """,
    """
    INSERT INTO payment_webhooks (gateway_account_id, gateway_name, webhook_id, raw_body,
        headers, status, created_at, updated_at)
    SELECT g.id, 'sandbox', 'due-' || i, '\\x7b7d', '{{}}', 'received',
        CAST(:now AS timestamptz), :now
    FROM generate_series(1, 200) i
    JOIN payment_gateways g ON g.merchant_id = {merchant}
    """,
)

STATISTICS_STATEMENT = """
    INSERT INTO payment_statistics (date, merchant_id, gateway_name, currency, total_requests,
        successful_payments, failed_payments, total_amount, successful_amount)
    SELECT CAST(:today AS date) - d, m.id, 'sandbox', c.currency, 10, 8, 2, 5000, 4000
    FROM generate_series(CAST(:first AS int), CAST(:last AS int)) d, merchants m,
        (VALUES ('USD'), ('VND')) AS c (currency)
"""


async def _seed(connection: AsyncConnection, first: int, last: int, days: range) -> None:
    """Payments `first` to `last` with their rows, and the statistics of `days` days ago."""
    params = {"first": first, "last": last, "now": NOW, "step": STEP}
    for statement in SEED_STATEMENTS:
        sql = statement.format(merchant=MERCHANT, series=SERIES, **IDS)
        await connection.execute(text(sql), params)
    await connection.execute(
        text(STATISTICS_STATEMENT),
        {"today": NOW.date(), "first": days.start, "last": days.stop - 1},
    )


async def _counts(connection: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in (
        *SEEDED,
        "payment_statistics",
        "payment_requests_archive",
        "payment_logs_archive",
    ):
        counts[table] = int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    return counts


async def _secondary_indexes(connection: AsyncConnection) -> list[tuple[str, str]]:
    """Indexes of the seeded tables that back no constraint: dropped for the bulk load and
    rebuilt from their own definitions afterwards (a sort is far cheaper than a million
    inserts into each)."""
    result = await connection.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public'"
            " AND i.tablename = ANY(:tables)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            " ORDER BY i.indexname"
        ),
        {"tables": list(SEEDED)},
    )
    return [(str(name), str(definition)) for name, definition in result.all()]


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# --- capturing and explaining what the application sends --------------------------------------


class Captured:
    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _relation(node: dict[str, Any]) -> str:
    return str(node.get("Relation Name", ""))


def _summary(plans: list[dict[str, Any]]) -> list[str]:
    """'Node Type on relation using index' for every scan."""
    lines = []
    for plan in plans:
        for node in _nodes(plan):
            if "Relation Name" in node:
                using = f" using {node['Index Name']}" if "Index Name" in node else ""
                lines.append(f"{node['Node Type']} on {node['Relation Name']}{using}")
    return lines


Query = Callable[[AsyncSession], Awaitable[object]]


async def _explain(db: Database, query: Query) -> list[dict[str, Any]]:
    captured = Captured()
    event.listen(db.engine.sync_engine, "before_cursor_execute", captured)
    try:
        async with db.session() as session:
            await query(session)
            await session.rollback()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", captured)
    assert captured.statements
    plans = []
    async with db.engine.connect() as connection:
        for statement, parameters in captured.statements:
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            explained = result.scalar_one()  # decoded by the driver's json codec, or text
            if isinstance(explained, str):
                explained = json.loads(explained)
            plans.append(explained[0]["Plan"])
        await connection.rollback()
    return plans


async def _time(db: Database, query: Query) -> dict[str, float]:
    samples = []
    for _ in range(RUNS):
        async with db.session() as session:
            started = time.perf_counter()
            await query(session)
            samples.append((time.perf_counter() - started) * 1000)
            await session.rollback()  # the claims and locks are undone
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p90_ms": round(samples[int(len(samples) * 0.9) - 1], 3),
    }


async def _transaction_id(session: AsyncSession, order_reference: str) -> int:
    result = await session.execute(
        select(PaymentTransaction.id).where(PaymentTransaction.order_reference == order_reference)
    )
    return int(result.scalar_one())


def _queries() -> dict[str, Query]:
    merchant = Merchant(id=_merchant(10))
    live, archived = _payment(10), _payment(SMALL)
    since = NOW - timedelta(days=30)
    lease = NOW + timedelta(minutes=1)

    async def by_order_reference(session: AsyncSession) -> object:
        result = await session.execute(
            select(PaymentTransaction).where(PaymentTransaction.order_reference == "seed-10")
        )
        return result.scalar_one()

    async def trail_since(session: AsyncSession) -> object:
        result = await session.execute(
            select(PaymentLog)
            .where(PaymentLog.payment_request_id == live, PaymentLog.created_at >= since)
            .order_by(PaymentLog.id)
        )
        return result.scalars().all()

    async def locked_by_transaction(session: AsyncSession) -> object:
        """What applying a gateway's answer or a webhook reads first."""
        transaction_id = await _transaction_id(session, "seed-10")
        return await PaymentRepository(session).lock_by_transaction(transaction_id)

    async def daily_statistics(session: AsyncSession) -> object:
        result = await session.execute(report_query(merchant.id, since.date(), NOW.date()))
        return result.scalars().all()

    return {
        "payment by id": lambda s: PaymentRepository(s).get(merchant.id, live),
        "archived payment by id": lambda s: retention_service.find_payment(
            s, Merchant(id=_merchant(SMALL)), archived
        ),
        "payments by order_id": lambda s: PaymentRepository(s).page(
            merchant.id, PaymentFilters(order_id="order-10"), None, 21
        ),
        "payment by order_reference": by_order_reference,
        "newest payments page": lambda s: PaymentRepository(s).page(
            merchant.id, PaymentFilters(), None, 21
        ),
        "payment by transaction id, locked": locked_by_transaction,
        "duplicate-charge guard, active": lambda s: PaymentRepository(s).active_exists(
            merchant.id, "user-10", "listing-10"
        ),
        "duplicate-charge guard, recent": lambda s: PaymentRepository(s).recent_charge_exists(
            merchant.id, "user-10", "listing-10", since
        ),
        "idempotency key": lambda s: IdempotencyRepository(s).lock(merchant.id, "seed-10"),
        "daily statistics": daily_statistics,
        "inbox claim": lambda s: WebhookRepository(s).claim_due(NOW, lease, 20, 10),
        "outbox claim": lambda s: DeliveryRepository(s).claim_due(NOW, lease, 20),
        "audit trail": lambda s: AuditRepository(s).list_for_payment(live, 1000),
        "audit trail, last 30 days": trail_since,
    }


async def _measure(db: Database) -> dict[str, dict[str, Any]]:
    measured = {}
    for name, query in _queries().items():
        plans = await _explain(db, query)
        measured[name] = {**await _time(db, query), "plans": plans}
    return measured


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def scale_db(database_url: str) -> AsyncIterator[Database]:
    name = f"payrelay_scale_{os.getpid()}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url, DatabaseOptions(pool_size=2, max_overflow=2, statement_timeout_ms=0))
    try:
        yield db
    finally:
        await db.dispose()
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_million_payments_keep_the_hot_queries_on_indexes(
    scale_db: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = scale_db
    started = time.perf_counter()
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO merchants (id, name, callback_secret)"
                " SELECT md5('m' || m)::uuid, 'Seed ' || m, 'whsec_seed'"
                " FROM generate_series(0, :last) m"
            ),
            {"last": MERCHANTS - 1},
        )
        await connection.execute(
            text(
                "INSERT INTO payment_gateways (merchant_id, code, name)"
                " SELECT id, 'sandbox', 'Sandbox' FROM merchants"
            )
        )
    # A year of monthly partitions, made by the code the worker runs.
    async with db.transaction() as session:
        months = retention_service.months_from(NOW - PAYMENTS * STEP, 14)
        for start, end in await retention_service.missing_partitions(session, months):
            await retention_service.create_partition(session, start, end)

    async with db.engine.begin() as connection:
        await _seed(connection, 1, SMALL, range(2))
        for statement in QUEUE_STATEMENTS:
            sql = statement.format(merchant=MERCHANT, **IDS)
            await connection.execute(text(sql), {"now": NOW})
    await retention_tasks.archive_payments(
        db, before=NOW - (SMALL - ARCHIVED_SMALL) * STEP, batch_size=100
    )
    await _analyze(db)
    small = await _measure(db)

    seeding = time.perf_counter()
    async with db.engine.begin() as connection:
        await connection.execute(text("SET LOCAL synchronous_commit = off"))
        await connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        if await connection.scalar(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ):
            # Foreign keys are known to hold here; checking a million of them row by row is
            # what makes a bulk load slow.
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        indexes = await _secondary_indexes(connection)
        for index, _ in indexes:
            await connection.execute(text(f'DROP INDEX "{index}"'))
        await _seed(connection, SMALL + 1, PAYMENTS, range(2, 366))
        for _, definition in indexes:
            # A partitioned table's index is listed as ON ONLY: built here for every partition.
            await connection.execute(text(definition.replace(" ON ONLY ", " ON ")))
        rebuilt = await _secondary_indexes(connection)
        assert [name for name, _ in rebuilt] == [name for name, _ in indexes]
        assert not await connection.scalar(
            text("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        )
        await connection.execute(
            text("SELECT setval('payment_transactions_id_seq', :n)"), {"n": PAYMENTS}
        )
    await _analyze(db)
    seeded_in = time.perf_counter() - seeding

    archiving = time.perf_counter()
    run = await retention_tasks.archive_payments(
        db, before=NOW - (PAYMENTS - ARCHIVED_BIG) * STEP, batch_size=1000
    )
    archived_in = time.perf_counter() - archiving
    assert run.payments == ARCHIVED_BIG
    await _analyze(db, *(archive.name for archive in ARCHIVES.values()), "idempotency_keys")
    async with db.engine.connect() as connection:
        counts = await _counts(connection)
        sizes = await _sizes(connection)
    assert counts["payment_requests"] + counts["payment_requests_archive"] == PAYMENTS
    archived = ARCHIVED_BIG + ARCHIVED_SMALL
    assert counts["payment_requests_archive"] == archived
    assert counts["payment_logs_archive"] == 3 * archived  # two each, and `payment.archived`
    assert counts["payment_logs"] >= 2 * (PAYMENTS - archived)
    big = await _measure(db)

    report = {
        "rows": counts,
        "seconds": {
            "seed": round(seeded_in, 1),
            f"archive {run.payments} payments": round(archived_in, 1),
            "total": round(time.perf_counter() - started, 1),
        },
        "queries": {
            name: {
                "before_ms": small[name]["median_ms"],
                "after_ms": big[name]["median_ms"],
                "after_p90_ms": big[name]["p90_ms"],
                "plan": _summary(big[name]["plans"]),
            }
            for name in big
        },
    }
    path = tmp_path_factory.mktemp("scale") / "query_times.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nscale report ({path}):\n{json.dumps(report, indent=2)}")  # noqa: T201

    for name, measured in big.items():
        nodes = [node for plan in measured["plans"] for node in _nodes(plan)]
        whole = [
            _relation(node)
            for node in nodes
            if node["Node Type"] == "Seq Scan" and sizes.get(_relation(node), 0) > BIG_ROWS
        ]
        assert whole == [], f"{name} reads {whole} whole: {_summary(measured['plans'])}"
        assert any("Index" in node["Node Type"] for node in nodes), name

    # A time bound prunes the older months of the audit trail.
    bounded = _partitions(big["audit trail, last 30 days"]["plans"])
    every_month = _partitions(big["audit trail"]["plans"])
    first_kept = f"payment_logs_p{NOW - timedelta(days=30):%Y%m}"
    assert len(every_month) >= 12
    assert bounded
    assert all(p >= first_kept for p in bounded - {"payment_logs_default"}), bounded
    assert len(every_month - bounded) >= 10


def _partitions(plans: list[dict[str, Any]]) -> set[str]:
    return {
        _relation(node)
        for plan in plans
        for node in _nodes(plan)
        if _relation(node).startswith("payment_logs_p") or _relation(node) == "payment_logs_default"
    }


async def _sizes(connection: AsyncConnection) -> dict[str, int]:
    """Estimated rows of every table (after ANALYZE)."""
    result = await connection.execute(
        text("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
    )
    return {str(name): int(rows) for name, rows in result.all()}


async def _analyze(db: Database, *tables: str) -> None:
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"ANALYZE {', '.join(tables)}"))
