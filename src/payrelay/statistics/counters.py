"""What each event adds to a day's counters: pure functions, no I/O.

A payment's counters are those of its final state (what `payrelay stats rebuild` sums from the
source tables); every event adds the difference its change makes, so the sum of a payment's
events is always its final state, whatever the order and number of events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal

from payrelay.enums import PaymentStatus
from payrelay.kit.money import commission_of_net
from payrelay.payment.state import Ledger

ZERO = Decimal(0)
SECOND = timedelta(seconds=1)
# Processing ends with the gateway's answer: money authorized (or taken at once) or declined.
DECIDED = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED, PaymentStatus.FAILED})


@dataclass(frozen=True, slots=True, order=True)
class Key:
    """One statistics row: a day of one merchant at one gateway in one currency."""

    date: date
    merchant_id: uuid.UUID
    gateway: str
    currency: str


@dataclass(frozen=True, slots=True)
class Counters:
    total_requests: int = 0
    successful_payments: int = 0
    failed_payments: int = 0
    total_amount: Decimal = ZERO
    successful_amount: Decimal = ZERO
    refunded_amount: Decimal = ZERO
    commission_amount: Decimal = ZERO
    processing_time_total: int = 0
    processing_time_count: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            **{name: getattr(self, name) + getattr(other, name) for name in COUNTER_FIELDS}
        )

    @property
    def is_zero(self) -> bool:
        return self == Counters()

    @property
    def average_processing_time(self) -> int:
        """Whole seconds, rounded down; 0 while no payment has been decided."""
        if self.processing_time_count == 0:
            return 0
        return self.processing_time_total // self.processing_time_count


COUNTER_FIELDS = tuple(field.name for field in fields(Counters))
INTEGER_FIELDS = frozenset(field.name for field in fields(Counters) if field.type == "int")


@dataclass(frozen=True, slots=True)
class Terms:
    """What a payment was created with; fixed for its whole life."""

    amount: Decimal
    commission: Decimal
    currency: str
    created_at: datetime


def seconds_between(start: datetime, end: datetime) -> int:
    """Whole seconds from `start` to `end`, rounded down, never negative."""
    return max(0, (end - start) // SECOND)


def commission_kept(terms: Terms, net: Decimal) -> Decimal:
    """The commission of the money kept (captured minus refunded): escrow's rule."""
    return commission_of_net(net, terms.amount, terms.commission, terms.currency).commission


def created(terms: Terms) -> Counters:
    return Counters(total_requests=1, total_amount=terms.amount)


def changed(terms: Terms, before: Ledger, after: Ledger, *, now: datetime) -> Counters:
    """What one change of a payment's money or status adds to its day."""
    decided = before.status is PaymentStatus.PENDING and after.status in DECIDED
    failed = after.status is PaymentStatus.FAILED and before.status is not PaymentStatus.FAILED
    kept_before = commission_kept(terms, before.captured - before.refunded)
    kept_after = commission_kept(terms, after.captured - after.refunded)
    return Counters(
        successful_payments=int(before.captured == 0 < after.captured),
        failed_payments=int(failed),
        successful_amount=after.captured - before.captured,
        refunded_amount=after.refunded - before.refunded,
        commission_amount=kept_after - kept_before,
        processing_time_total=seconds_between(terms.created_at, now) if decided else 0,
        processing_time_count=int(decided),
    )
