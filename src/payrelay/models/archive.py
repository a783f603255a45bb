"""Archive tables: `<table>_archive` for every table a payment's rows live in.

Each has exactly the live table's columns (derived here from the live model, so `alembic check`
fails when a migration changes a live table and forgets its archive), no foreign keys (the rows
they pointed to are archived too, or stay live), a primary key on `id` and the indexes that find
an archived payment. `payrelay archive` moves whole payments here (docs/operations.md).
"""

from __future__ import annotations

from sqlalchemy import Column, DefaultClause, Index, Table

from payrelay.models.base import Model
from payrelay.models.callback_attempt import CallbackAttempt
from payrelay.models.escrow_payment import EscrowPayment
from payrelay.models.payment_callback import PaymentCallback
from payrelay.models.payment_log import PaymentLog
from payrelay.models.payment_operation import PaymentOperation
from payrelay.models.payment_request import PaymentRequest
from payrelay.models.payment_transaction import PaymentTransaction
from payrelay.models.payment_webhook import PaymentWebhook

ARCHIVE_SUFFIX = "_archive"


def _archive_of(model: type[Model], *indexes: tuple[str, ...]) -> Table:
    live = Model.metadata.tables[model.__tablename__]
    name = f"{live.name}{ARCHIVE_SUFFIX}"
    columns = [
        Column(
            column.name,
            column.type,
            primary_key=column.name == "id",
            nullable=column.nullable,
            server_default=DefaultClause(column.server_default.arg)
            if isinstance(column.server_default, DefaultClause)
            else None,
        )
        for column in live.columns
    ]
    index_objects = [Index(f"ix_{name}_{'_'.join(names)}", *names) for names in indexes]
    return Table(name, Model.metadata, *columns, *index_objects)


payment_requests_archive = _archive_of(PaymentRequest, ("merchant_id", "order_id"))
payment_transactions_archive = _archive_of(
    PaymentTransaction,
    ("payment_request_id",),
    ("order_reference",),
    ("created_at",),
)
payment_operations_archive = _archive_of(PaymentOperation, ("payment_transaction_id",))
escrow_payments_archive = _archive_of(EscrowPayment, ("payment_transaction_id",))
payment_logs_archive = _archive_of(PaymentLog, ("payment_request_id",))
payment_webhooks_archive = _archive_of(
    PaymentWebhook, ("payment_request_id",), ("gateway_account_id", "webhook_id")
)
payment_callbacks_archive = _archive_of(PaymentCallback, ("payment_request_id",))
callback_attempts_archive = _archive_of(CallbackAttempt, ("callback_id",))

# Live table name -> its archive, in the order rows are moved (children before parents).
ARCHIVES: dict[str, Table] = {
    table.name.removesuffix(ARCHIVE_SUFFIX): table
    for table in (
        callback_attempts_archive,
        payment_callbacks_archive,
        payment_webhooks_archive,
        payment_logs_archive,
        payment_operations_archive,
        escrow_payments_archive,
        payment_transactions_archive,
        payment_requests_archive,
    )
}
