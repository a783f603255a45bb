"""All SQL of retention: payment_logs partitions, moving payments into the archive tables and
reading them back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased

from payrelay.enums import (
    CallbackStatus,
    EscrowStatus,
    IdempotencyState,
    OperationStatus,
    PaymentStatus,
    RequestStatus,
    WebhookStatus,
)
from payrelay.kit.db import AsyncSession
from payrelay.models import (
    ARCHIVES,
    CallbackAttempt,
    EscrowPayment,
    IdempotencyKey,
    Model,
    PaymentCallback,
    PaymentGateway,
    PaymentLog,
    PaymentOperation,
    PaymentRequest,
    PaymentTransaction,
    PaymentWebhook,
)
from payrelay.payment.repository import PaymentRow

LOGS = "payment_logs"
DEFAULT_PARTITION = "payment_logs_default"

# What a payment must look like to be archived (docs/operations.md, "Archiving").
ARCHIVABLE_STATUSES = tuple(
    status.value
    for status in PaymentStatus
    if status not in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED)
)
SETTLED_ESCROW = (
    EscrowStatus.RELEASED.value,
    EscrowStatus.REFUNDED.value,
    EscrowStatus.CANCELLED.value,
)
UNRESOLVED_OPERATIONS = (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value)
UNDELIVERED_CALLBACKS = (
    CallbackStatus.PENDING.value,
    CallbackStatus.DELIVERING.value,
    CallbackStatus.FAILED.value,
)
UNPROCESSED_WEBHOOKS = (WebhookStatus.RECEIVED.value, WebhookStatus.FAILED.value)

_archived_request = aliased(PaymentRequest, ARCHIVES["payment_requests"], adapt_on_names=True)
_archived_transaction = aliased(
    PaymentTransaction, ARCHIVES["payment_transactions"], adapt_on_names=True
)
_archived_escrow = aliased(EscrowPayment, ARCHIVES["escrow_payments"], adapt_on_names=True)


def partition_name(month: datetime) -> str:
    return f"{LOGS}_p{month:%Y%m}"


def _eligible(before: datetime) -> ColumnElement[bool]:
    """The payment (a `payment_requests` row in the query) is finished and untouched since
    `before`, and nothing about it is still in flight."""
    of_payment = PaymentTransaction.payment_request_id == PaymentRequest.id
    return and_(
        PaymentRequest.created_at < before,
        PaymentRequest.updated_at < before,
        PaymentRequest.status != RequestStatus.PENDING.value,
        ~exists().where(
            of_payment,
            or_(
                PaymentTransaction.status.not_in(ARCHIVABLE_STATUSES),
                PaymentTransaction.updated_at >= before,
            ),
        ),
        ~exists().where(
            of_payment,
            PaymentOperation.payment_transaction_id == PaymentTransaction.id,
            PaymentOperation.status.in_(UNRESOLVED_OPERATIONS),
        ),
        ~exists().where(
            of_payment,
            EscrowPayment.payment_transaction_id == PaymentTransaction.id,
            EscrowPayment.status.not_in(SETTLED_ESCROW),
        ),
        ~exists().where(
            PaymentCallback.payment_request_id == PaymentRequest.id,
            PaymentCallback.status.in_(UNDELIVERED_CALLBACKS),
        ),
        ~exists().where(
            PaymentWebhook.payment_request_id == PaymentRequest.id,
            PaymentWebhook.status.in_(UNPROCESSED_WEBHOOKS),
        ),
        ~exists().where(
            IdempotencyKey.payment_request_id == PaymentRequest.id,
            IdempotencyKey.state == IdempotencyState.IN_PROGRESS.value,
        ),
    )


def _rows_of(table: str, payments: Sequence[uuid.UUID] | Select[uuid.UUID]) -> ColumnElement[bool]:
    """The rows of `table` that belong to `payments` (ids, or a query of ids)."""
    transactions = select(PaymentTransaction.id).where(
        PaymentTransaction.payment_request_id.in_(payments)
    )
    callbacks = select(PaymentCallback.id).where(PaymentCallback.payment_request_id.in_(payments))
    conditions: dict[str, ColumnElement[bool]] = {
        "callback_attempts": CallbackAttempt.callback_id.in_(callbacks),
        "payment_callbacks": PaymentCallback.payment_request_id.in_(payments),
        "payment_webhooks": PaymentWebhook.payment_request_id.in_(payments),
        "payment_logs": PaymentLog.payment_request_id.in_(payments),
        "payment_operations": PaymentOperation.payment_transaction_id.in_(transactions),
        "escrow_payments": EscrowPayment.payment_transaction_id.in_(transactions),
        "payment_transactions": PaymentTransaction.payment_request_id.in_(payments),
        "payment_requests": PaymentRequest.id.in_(payments),
    }
    return conditions[table]


class PartitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def existing(self) -> set[str]:
        result = await self.session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = CAST(:parent AS regclass)"
            ),
            {"parent": LOGS},
        )
        return set(result.scalars())

    async def create(self, start: datetime, end: datetime) -> int:
        """Create the month [start, end) as a partition, first moving into it the rows the
        DEFAULT partition caught for that month; the number of rows moved. Built as a plain
        table and attached, so inserts into payment_logs are never blocked for long."""
        name = partition_name(start)
        names = [column.name for column in PaymentLog.__table__.columns]
        partition = table(name, *(column(c) for c in names))
        default = table(DEFAULT_PARTITION, *(column(c) for c in names))
        in_month = and_(default.c.created_at >= start, default.c.created_at < end)
        await self.session.execute(text("SELECT set_config('lock_timeout', '5s', true)"))
        await self.session.execute(text(f"CREATE TABLE {name} (LIKE {LOGS} INCLUDING DEFAULTS)"))
        await self.session.execute(text(f"ALTER TABLE {name} ADD PRIMARY KEY (id, created_at)"))
        moved = await self.session.execute(
            insert(partition).from_select(names, select(default).where(in_month))
        )
        rehomed = int(moved.rowcount)  # type: ignore[attr-defined]
        if rehomed:
            # The append-only trigger lets these rows leave DEFAULT: their copies are in `name`.
            await self.session.execute(
                text("SELECT set_config('payrelay.rehoming', :name, true)"), {"name": name}
            )
            await self.session.execute(delete(default).where(in_month))
        await self.session.execute(
            text(
                f"ALTER TABLE {LOGS} ATTACH PARTITION {name} FOR VALUES"
                f" FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
        # Row triggers come from payment_logs; TRUNCATE triggers are per table.
        await self.session.execute(
            text(
                f"CREATE TRIGGER {name}_append_only_truncate BEFORE TRUNCATE ON {name}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION payment_logs_append_only('{LOGS}')"
            )
        )
        return rehomed


class ArchiveRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- choosing and locking ----------------------------------------------------------------

    async def count_eligible(self, before: datetime) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(PaymentRequest).where(_eligible(before))
        )
        return int(result.scalar_one())

    async def count_rows(self, before: datetime) -> dict[str, int]:
        """Rows of each table that archiving everything eligible now would move."""
        payments = select(PaymentRequest.id).where(_eligible(before))
        counts = {}
        for name in ARCHIVES:
            result = await self.session.execute(
                select(func.count())
                .select_from(Model.metadata.tables[name])
                .where(_rows_of(name, payments))
            )
            counts[name] = int(result.scalar_one())
        return counts

    async def lock_next(
        self, before: datetime, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[tuple[uuid.UUID, datetime]]:
        """The next eligible payments after `after`, oldest first, their rows locked; payments
        someone else holds are skipped (a later run takes them)."""
        query = select(PaymentRequest.id, PaymentRequest.created_at).where(_eligible(before))
        if after is not None:
            query = query.where(
                tuple_(PaymentRequest.created_at, PaymentRequest.id) > tuple_(*after)
            )
        result = await self.session.execute(
            query.order_by(PaymentRequest.created_at, PaymentRequest.id)
            .limit(limit)
            .with_for_update(of=PaymentRequest, skip_locked=True)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def confirm(self, payment_ids: list[uuid.UUID], before: datetime) -> list[uuid.UUID]:
        """Lock the rows other writers could still touch without the payment's lock (its
        transactions, callbacks being replayed) and check again, with a fresh snapshot, which
        of the payments are still eligible."""
        await self.session.execute(
            select(PaymentTransaction.id)
            .where(PaymentTransaction.payment_request_id.in_(payment_ids))
            .order_by(PaymentTransaction.id)
            .with_for_update()
        )
        await self.session.execute(
            select(PaymentCallback.id)
            .where(PaymentCallback.payment_request_id.in_(payment_ids))
            .order_by(PaymentCallback.id)
            .with_for_update()
        )
        result = await self.session.execute(
            select(PaymentRequest.id).where(PaymentRequest.id.in_(payment_ids), _eligible(before))
        )
        return list(result.scalars())

    # --- moving ------------------------------------------------------------------------------

    async def audit_archived(self, payment_ids: list[uuid.UUID], before: datetime) -> None:
        """One `payment.archived` row in each payment's own trail, moved with the rest."""
        current = (
            select(func.max(PaymentTransaction.id))
            .where(PaymentTransaction.payment_request_id == PaymentRequest.id)
            .scalar_subquery()
        )
        await self.session.execute(
            insert(PaymentLog).from_select(
                [
                    "payment_request_id",
                    "payment_transaction_id",
                    "merchant_id",
                    "event_type",
                    "event_data",
                    "actor",
                ],
                select(
                    PaymentRequest.id,
                    current,
                    PaymentRequest.merchant_id,
                    literal("payment.archived"),
                    func.jsonb_build_object("before", before.isoformat()),
                    literal("operator"),
                ).where(PaymentRequest.id.in_(payment_ids)),
            )
        )

    async def unlink_idempotency_keys(self, payment_ids: list[uuid.UUID]) -> None:
        """Finished keys stay live and keep replaying their stored answer; only their links to
        rows that leave are cleared (foreign keys cannot point into the archive)."""
        operations = select(PaymentOperation.id).where(_rows_of("payment_operations", payment_ids))
        unlinked = {"payment_request_id": None, "operation_id": None}
        for condition in (
            IdempotencyKey.payment_request_id.in_(payment_ids),
            IdempotencyKey.operation_id.in_(operations),
        ):  # two statements: each an index probe (an OR of them would read the table whole)
            await self.session.execute(update(IdempotencyKey).where(condition).values(unlinked))

    async def move(self, name: str, payment_ids: list[uuid.UUID]) -> int:
        """Copy the payments' rows of table `name` into its archive, then delete them; the
        number moved. Copy first: in payment_logs the trigger deletes only rows already copied."""
        archive, live = ARCHIVES[name], Model.metadata.tables[name]
        columns = [archived.name for archived in archive.columns]
        condition = _rows_of(name, payment_ids)
        copied = await self.session.execute(
            insert(archive).from_select(
                columns, select(*(live.c[column] for column in columns)).where(condition)
            )
        )
        deleted = await self.session.execute(delete(live).where(condition))
        count = int(copied.rowcount)  # type: ignore[attr-defined]
        gone = int(deleted.rowcount)  # type: ignore[attr-defined]
        if gone != count:  # the payments' rows are locked: a mismatch is a bug, never commit it
            raise RuntimeError(f"{name}: copied {count} rows to the archive but deleted {gone}")
        return count

    async def allow_log_deletes(self) -> None:
        """Tell the append-only trigger this transaction archives (until it ends)."""
        await self.session.execute(text("SELECT set_config('payrelay.archiving', 'on', true)"))

    # --- reading ------------------------------------------------------------------------------

    async def get_payment(self, merchant_id: uuid.UUID, payment_id: uuid.UUID) -> PaymentRow | None:
        """An archived payment, read exactly as `PaymentRepository.get` reads a live one."""
        request, transaction, escrow = _archived_request, _archived_transaction, _archived_escrow
        latest = ARCHIVES["payment_transactions"].alias("latest")
        current = (
            select(func.max(latest.c.id))
            .where(latest.c.payment_request_id == request.id)
            .scalar_subquery()
        )
        result = await self.session.execute(
            select(request, transaction, PaymentGateway.code, escrow)
            .select_from(request)
            .join(transaction, transaction.id == current)
            .join(PaymentGateway, PaymentGateway.id == transaction.gateway_id)
            .outerjoin(escrow, escrow.payment_transaction_id == transaction.id)
            .where(request.id == payment_id, request.merchant_id == merchant_id)
        )
        row = result.one_or_none()
        if row is None:
            return None
        return PaymentRow(request=row[0], transaction=row[1], gateway=row[2], escrow=row[3])

    async def is_archived(self, merchant_id: uuid.UUID, payment_id: uuid.UUID) -> bool:
        archive = ARCHIVES["payment_requests"]
        result = await self.session.execute(
            select(archive.c.id).where(
                archive.c.id == payment_id, archive.c.merchant_id == merchant_id
            )
        )
        return result.first() is not None
