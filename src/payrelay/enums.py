"""Enumerations shared across modules and with the connectors."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """Status of a payment transaction (the payment object's `status`)."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        PaymentStatus.REFUNDED,
        PaymentStatus.VOIDED,
        PaymentStatus.FAILED,
        PaymentStatus.EXPIRED,
        PaymentStatus.CANCELLED,
    }
)


class RequestStatus(StrEnum):
    """Status of a payment request, the shop document's coarse view of its transaction."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


REQUEST_STATUS_BY_PAYMENT_STATUS: dict[PaymentStatus, RequestStatus] = {
    PaymentStatus.PENDING: RequestStatus.PENDING,
    PaymentStatus.AUTHORIZED: RequestStatus.PENDING,
    PaymentStatus.CAPTURED: RequestStatus.COMPLETED,
    PaymentStatus.PARTIALLY_REFUNDED: RequestStatus.COMPLETED,
    PaymentStatus.REFUNDED: RequestStatus.COMPLETED,
    PaymentStatus.VOIDED: RequestStatus.CANCELLED,
    PaymentStatus.CANCELLED: RequestStatus.CANCELLED,
    PaymentStatus.FAILED: RequestStatus.FAILED,
    PaymentStatus.EXPIRED: RequestStatus.EXPIRED,
}


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class OperationKind(StrEnum):
    CREATE = "create"
    COMPLETE = "complete"  # finishing a payment the customer approved (PayPal's order capture)
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class OperationStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class MerchantStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class EscrowStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class WebhookStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


class IdempotencyState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class RecoveryPoint(StrEnum):
    """How far a keyed request got; a retry after a crash resumes from here."""

    STARTED = "started"
    OPERATION_RECORDED = "operation_recorded"
    FINISHED = "finished"


def sql_in(values: type[StrEnum] | frozenset[StrEnum] | list[StrEnum]) -> str:
    """`'a', 'b'` for a CHECK constraint."""
    return ", ".join(f"'{value.value}'" for value in values)
