"""The payment state machine: pure functions, no I/O.

Merchant commands (`plan_capture`, `plan_void`, `plan_refund`) either return what to send to the
gateway or raise; a refused command changes nothing. Gateway facts (`apply`) are idempotent and
monotonic: a repeated or stale fact returns the ledger unchanged, so webhooks may arrive twice or
out of order. Amounts reserved by operations still in flight are part of the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from payrelay.enums import PaymentStatus
from payrelay.payment.errors import (
    CaptureExceedsAuthorized,
    IllegalTransition,
    InvalidAmount,
    OperationInProgress,
    RefundExceedsCaptured,
)


@dataclass(frozen=True, slots=True)
class Ledger:
    status: PaymentStatus
    amount: Decimal
    authorized: Decimal = Decimal(0)
    captured: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    capture_pending: Decimal = Decimal(0)
    refund_pending: Decimal = Decimal(0)
    void_pending: bool = False
    received: Decimal = Decimal(0)  # money that arrived by transfer, summed (may exceed amount)

    @property
    def refundable(self) -> Decimal:
        return self.captured - self.refunded - self.refund_pending

    def check_invariants(self) -> None:
        if not (Decimal(0) <= self.authorized <= self.amount):
            raise AssertionError(f"authorized out of range: {self}")
        if not (Decimal(0) <= self.captured <= self.authorized):
            raise AssertionError(f"captured out of range: {self}")
        if not (Decimal(0) <= self.refunded <= self.captured):
            raise AssertionError(f"refunded out of range: {self}")
        if self.refunded + self.refund_pending > self.captured:
            raise AssertionError(f"refunds over-committed: {self}")
        if self.received < 0:
            raise AssertionError(f"received out of range: {self}")


class Fact(StrEnum):
    """What a gateway can tell us about a payment or one of our operations."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    VOIDED = "voided"
    REFUNDED = "refunded"
    FUNDS_RECEIVED = "funds_received"  # a transfer arrived; `amount` is this one only


def plan_capture(ledger: Ledger, amount: Decimal | None) -> Decimal:
    _require_no_operation_in_flight(ledger)
    if ledger.status is not PaymentStatus.AUTHORIZED:
        raise IllegalTransition(
            f"cannot capture a payment that is {ledger.status.value}; only authorized "
            "payments can be captured",
            details={"status": ledger.status.value},
        )
    amount = ledger.authorized if amount is None else amount
    _require_positive(amount)
    if amount > ledger.authorized:
        raise CaptureExceedsAuthorized(
            f"capture of {amount} exceeds the authorized {ledger.authorized}",
            details={"requested": str(amount), "authorized": str(ledger.authorized)},
        )
    return amount


def plan_void(ledger: Ledger) -> Decimal:
    _require_no_operation_in_flight(ledger)
    if ledger.status is not PaymentStatus.AUTHORIZED or ledger.captured > 0:
        raise IllegalTransition(
            f"cannot void a payment that is {ledger.status.value}; void is only possible "
            "while the payment is authorized and nothing has been captured",
            details={"status": ledger.status.value},
        )
    return ledger.authorized


def plan_refund(ledger: Ledger, amount: Decimal | None) -> Decimal:
    if ledger.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        raise IllegalTransition(
            f"cannot refund a payment that is {ledger.status.value}; only captured payments "
            "can be refunded",
            details={"status": ledger.status.value},
        )
    available = ledger.refundable
    if available <= 0:
        raise OperationInProgress(
            "the whole captured amount is already being refunded",
            details={"refund_pending": str(ledger.refund_pending)},
        )
    amount = available if amount is None else amount
    _require_positive(amount)
    if amount > available:
        raise RefundExceedsCaptured(
            f"refund of {amount} exceeds the {available} still refundable",
            details={
                "requested": str(amount),
                "captured": str(ledger.captured),
                "refunded": str(ledger.refunded),
                "refund_pending": str(ledger.refund_pending),
            },
        )
    return amount


def apply(ledger: Ledger, fact: Fact, amount: Decimal | None = None) -> Ledger:
    """The ledger after a gateway fact. Returns `ledger` itself when the fact changes nothing."""
    status = ledger.status
    if fact is Fact.FUNDS_RECEIVED:
        return _receive(ledger, amount)
    if fact is Fact.AUTHORIZED and status is PaymentStatus.PENDING:
        authorized = _bounded(amount, ledger.amount)
        return replace(ledger, status=PaymentStatus.AUTHORIZED, authorized=authorized)
    if fact is Fact.CAPTURED and status is PaymentStatus.PENDING:
        captured = _bounded(amount, ledger.amount)
        return replace(
            ledger, status=PaymentStatus.CAPTURED, authorized=captured, captured=captured
        )
    if fact is Fact.CAPTURED and status is PaymentStatus.AUTHORIZED:
        captured = _bounded(amount, ledger.authorized)
        return replace(ledger, status=PaymentStatus.CAPTURED, captured=captured)
    if fact is Fact.DECLINED and status is PaymentStatus.PENDING:
        return replace(ledger, status=PaymentStatus.FAILED)
    if fact is Fact.EXPIRED and status is PaymentStatus.PENDING:
        return replace(ledger, status=PaymentStatus.EXPIRED)
    if fact is Fact.CANCELLED and status is PaymentStatus.PENDING:
        return replace(ledger, status=PaymentStatus.CANCELLED)
    if fact is Fact.VOIDED and status is PaymentStatus.AUTHORIZED and ledger.captured == 0:
        return replace(ledger, status=PaymentStatus.VOIDED)
    if fact is Fact.REFUNDED and status in (
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
    ):
        if amount is None or amount <= 0:
            raise ValueError("a refund fact needs a positive amount")
        refunded = min(ledger.refunded + amount, ledger.captured)
        return replace(
            ledger,
            refunded=refunded,
            status=PaymentStatus.REFUNDED
            if refunded == ledger.captured
            else PaymentStatus.PARTIALLY_REFUNDED,
        )
    return ledger


def _receive(ledger: Ledger, amount: Decimal | None) -> Ledger:
    """Transfers add up; the payment is captured (for its amount) once they reach it. Money
    arriving in any other state is still counted, so nothing received goes unrecorded."""
    if amount is None or amount <= 0:
        raise ValueError("a receipt needs a positive amount")
    received = ledger.received + amount
    if ledger.status is PaymentStatus.PENDING and received >= ledger.amount:
        return replace(
            ledger,
            received=received,
            status=PaymentStatus.CAPTURED,
            authorized=ledger.amount,
            captured=ledger.amount,
        )
    return replace(ledger, received=received)


def _bounded(amount: Decimal | None, ceiling: Decimal) -> Decimal:
    """A reported amount, never above what it can be (a gateway cannot capture more than asked)."""
    if amount is None or amount <= 0:
        return ceiling
    return min(amount, ceiling)


def _require_positive(amount: Decimal) -> None:
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero", details={"amount": str(amount)})


def _require_no_operation_in_flight(ledger: Ledger) -> None:
    if ledger.capture_pending > 0 or ledger.void_pending:
        raise OperationInProgress(
            "another capture or void of this payment is still in progress",
            details={
                "capture_pending": str(ledger.capture_pending),
                "void_pending": ledger.void_pending,
            },
        )
