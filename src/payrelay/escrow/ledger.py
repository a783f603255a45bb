"""The escrow of one marketplace payment as a pure function of the payment's money: no I/O.

The money kept (captured − refunded) is split by `kit.money.commission_of_net`, the one rule
for it: the commission scales with the money kept (rounded half-even to the minor unit) and
the seller gets exactly the rest. So at every moment

    commission + seller share + refunded = captured

by construction, and a refund never raises either part. A refund of R takes
(seller share before − after) from the seller — out of the held share before release, as the
seller's debt after it — and (commission before − after) from the marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from payrelay.enums import EscrowStatus, PaymentStatus
from payrelay.escrow.errors import EscrowAlreadyReleased, EscrowNotReleasable
from payrelay.kit.money import commission_of_net
from payrelay.payment.errors import OperationInProgress

ZERO = Decimal(0)

# A payment that ends in one of these before anything was captured cancels its escrow.
ENDED_UNCAPTURED = frozenset(
    {PaymentStatus.VOIDED, PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class Terms:
    """What the payment was created for: the commission is fixed at creation."""

    amount: Decimal
    commission: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Escrow:
    status: EscrowStatus
    captured: Decimal = ZERO
    commission: Decimal = ZERO
    seller: Decimal = ZERO  # the seller's share now (`escrow_payments.amount`)
    refunded: Decimal = ZERO  # refunded to the customer, in total
    released: Decimal | None = None  # paid out to the seller at release

    @property
    def seller_debt(self) -> Decimal:
        """What the seller owes back: paid out at release, less the share that is still theirs."""
        return ZERO if self.released is None else self.released - self.seller

    @property
    def releasable(self) -> bool:
        return self.status is EscrowStatus.HELD and self.captured > 0

    def check_invariants(self) -> None:
        parts = (self.captured, self.commission, self.seller, self.refunded)
        if any(part < 0 for part in parts):
            raise AssertionError(f"negative part: {self}")
        if self.commission + self.seller + self.refunded != self.captured:
            raise AssertionError(f"parts do not add up to the captured amount: {self}")
        if self.seller_debt < 0:
            raise AssertionError(f"seller share above the payout: {self}")
        if self.status is EscrowStatus.RELEASED and (self.released is None or self.seller_debt):
            raise AssertionError(f"released without a payout, or with a debt: {self}")
        if self.status in (EscrowStatus.HELD, EscrowStatus.CANCELLED) and self.released is not None:
            raise AssertionError(f"paid out yet {self.status.value}: {self}")
        if self.status is EscrowStatus.CANCELLED and self.captured:
            raise AssertionError(f"cancelled with money captured: {self}")


def follow(
    escrow: Escrow | None,
    terms: Terms,
    status: PaymentStatus,
    captured: Decimal,
    refunded: Decimal,
) -> Escrow | None:
    """The escrow after the payment's status or money changed (`None`: there is none).

    It opens when money is first secured: `held` with nothing in it at authorization, or
    with the split at capture. A payment that ends before anything is captured cancels it.
    """
    if escrow is None:
        if captured > 0:
            return _split(Escrow(EscrowStatus.HELD), terms, captured, refunded)
        return Escrow(EscrowStatus.HELD) if status is PaymentStatus.AUTHORIZED else None
    if escrow.status is EscrowStatus.CANCELLED:
        return escrow
    if captured == 0:
        if status in ENDED_UNCAPTURED:
            return replace(escrow, status=EscrowStatus.CANCELLED)
        return escrow
    return _split(escrow, terms, captured, refunded)


def release(
    escrow: Escrow | None, *, payment_status: PaymentStatus, refund_pending: bool
) -> Escrow:
    """Pay the seller's share out, or raise why it cannot be now."""
    if escrow is None:
        raise EscrowNotReleasable(
            f"nothing is held for this payment yet (it is {payment_status.value}); escrow is "
            "released after capture",
            details={"escrow_status": None, "payment_status": payment_status.value},
        )
    details = {"escrow_status": escrow.status.value, "payment_status": payment_status.value}
    if escrow.released is not None:
        raise EscrowAlreadyReleased("the seller's share was already released", details=details)
    if escrow.status is not EscrowStatus.HELD:
        raise EscrowNotReleasable(
            f"the escrow is {escrow.status.value}: nothing is left to pay out", details=details
        )
    if escrow.captured == 0:
        raise EscrowNotReleasable(
            "the payment is authorized but not captured; capture it before releasing",
            details=details,
        )
    if refund_pending:
        raise OperationInProgress(
            "a refund of this payment is still in progress; release once it is settled, so "
            "the refund comes out of the held share",
            details=details,
        )
    return replace(escrow, status=EscrowStatus.RELEASED, released=escrow.seller)


def _split(escrow: Escrow, terms: Terms, captured: Decimal, refunded: Decimal) -> Escrow:
    split = commission_of_net(captured - refunded, terms.amount, terms.commission, terms.currency)
    moved = replace(
        escrow,
        captured=captured,
        commission=split.commission,
        seller=split.seller_amount,
        refunded=refunded,
    )
    return replace(moved, status=_status(moved))


def _status(escrow: Escrow) -> EscrowStatus:
    """After release: `refunded` once the seller owes something back. Before: `refunded` when
    everything was given back (nothing is left to pay out), `held` otherwise."""
    if escrow.released is not None:
        return EscrowStatus.REFUNDED if escrow.seller_debt > 0 else EscrowStatus.RELEASED
    if escrow.refunded == escrow.captured:
        return EscrowStatus.REFUNDED
    return EscrowStatus.HELD
