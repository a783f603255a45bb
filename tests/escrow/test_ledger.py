"""The pure escrow rules: examples, and Hypothesis over random capture/refund/release/void
sequences driven through the payment state machine."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payrelay.enums import EscrowStatus, PaymentStatus
from payrelay.escrow import ledger
from payrelay.escrow.errors import EscrowAlreadyReleased, EscrowNotReleasable
from payrelay.exceptions import PayrelayError
from payrelay.kit import money
from payrelay.payment import state
from payrelay.payment.errors import OperationInProgress

RSD = ledger.Terms(amount=Decimal("12500.00"), commission=Decimal("625.00"), currency="RSD")
VND = ledger.Terms(amount=Decimal("150000"), commission=Decimal("7500"), currency="VND")


def d(value: str) -> Decimal:
    return Decimal(value)


def follow(
    escrow: ledger.Escrow | None,
    terms: ledger.Terms,
    status: PaymentStatus,
    captured: str,
    refunded: str = "0",
) -> ledger.Escrow | None:
    moved = ledger.follow(escrow, terms, status, d(captured), d(refunded))
    if moved is not None:
        moved.check_invariants()
    return moved


def released(escrow: ledger.Escrow | None) -> ledger.Escrow:
    return ledger.release(escrow, payment_status=PaymentStatus.CAPTURED, refund_pending=False)


# --- examples (the worked examples of docs/marketplace.md) ----------------------------------


def test_rsd_partial_capture_refund_release_refund():
    opened = follow(None, RSD, PaymentStatus.AUTHORIZED, "0")
    assert opened == ledger.Escrow(EscrowStatus.HELD)
    assert not opened.releasable

    held = follow(opened, RSD, PaymentStatus.CAPTURED, "10000.00")
    assert held is not None
    assert (held.status, held.commission, held.seller) == (
        EscrowStatus.HELD,
        d("500.00"),
        d("9500.00"),
    )

    refunded = follow(held, RSD, PaymentStatus.PARTIALLY_REFUNDED, "10000.00", "1234.56")
    assert refunded is not None
    assert (refunded.status, refunded.commission, refunded.seller) == (
        EscrowStatus.HELD,
        d("438.27"),
        d("8327.17"),
    )
    # The refund came out of the held share and the commission, to the last para.
    assert (held.seller - refunded.seller) + (held.commission - refunded.commission) == d("1234.56")

    paid = released(refunded)
    assert (paid.status, paid.released, paid.seller_debt) == (
        EscrowStatus.RELEASED,
        d("8327.17"),
        0,
    )

    owed = follow(paid, RSD, PaymentStatus.PARTIALLY_REFUNDED, "10000.00", "3234.56")
    assert owed is not None
    assert (owed.status, owed.commission, owed.seller, owed.seller_debt) == (
        EscrowStatus.REFUNDED,
        d("338.27"),
        d("6427.17"),
        d("1900.00"),
    )
    assert owed.released == d("8327.17")


def test_vnd_sale_refunded_in_two_parts_before_release():
    held = follow(None, VND, PaymentStatus.CAPTURED, "150000")
    assert held is not None
    assert (held.status, held.commission, held.seller) == (EscrowStatus.HELD, 7500, 142500)
    part = follow(held, VND, PaymentStatus.PARTIALLY_REFUNDED, "150000", "33333")
    assert part is not None
    assert (part.status, part.commission, part.seller) == (EscrowStatus.HELD, 5833, 110834)
    rest = follow(part, VND, PaymentStatus.REFUNDED, "150000", "150000")
    assert rest is not None
    assert (rest.status, rest.commission, rest.seller, rest.refunded) == (
        EscrowStatus.REFUNDED,
        0,
        0,
        150000,
    )
    with pytest.raises(EscrowNotReleasable):
        released(rest)


def test_a_refund_out_of_the_commission_alone_leaves_no_seller_debt():
    """Rounding: taking 1 VND from 149 990 kept lowers only the commission (7500 → 7499)."""
    paid = released(follow(None, VND, PaymentStatus.PARTIALLY_REFUNDED, "150000", "10"))
    after = follow(paid, VND, PaymentStatus.PARTIALLY_REFUNDED, "150000", "11")
    assert after is not None
    assert (after.status, after.commission, after.seller_debt) == (EscrowStatus.RELEASED, 7499, 0)


@pytest.mark.parametrize(
    "status",
    [PaymentStatus.VOIDED, PaymentStatus.EXPIRED, PaymentStatus.FAILED, PaymentStatus.CANCELLED],
)
def test_an_authorization_that_ends_uncaptured_cancels_the_escrow(status):
    opened = follow(None, RSD, PaymentStatus.AUTHORIZED, "0")
    cancelled = follow(opened, RSD, status, "0")
    assert cancelled == ledger.Escrow(EscrowStatus.CANCELLED)
    with pytest.raises(EscrowNotReleasable):
        released(cancelled)


def test_no_escrow_for_a_payment_that_never_secured_money():
    assert follow(None, RSD, PaymentStatus.PENDING, "0") is None
    assert follow(None, RSD, PaymentStatus.FAILED, "0") is None


def test_release_refusals():
    with pytest.raises(EscrowNotReleasable) as nothing:
        ledger.release(None, payment_status=PaymentStatus.PENDING, refund_pending=False)
    assert nothing.value.details == {"escrow_status": None, "payment_status": "pending"}
    with pytest.raises(EscrowNotReleasable):
        released(follow(None, RSD, PaymentStatus.AUTHORIZED, "0"))
    held = follow(None, RSD, PaymentStatus.CAPTURED, "12500.00")
    with pytest.raises(OperationInProgress):
        ledger.release(held, payment_status=PaymentStatus.CAPTURED, refund_pending=True)
    with pytest.raises(EscrowAlreadyReleased):
        released(released(held))


# --- properties --------------------------------------------------------------------------------

CURRENCIES = ("VND", "RSD", "KWD", "JPY", "USD")


@dataclass
class Model:
    """A payment driven through the real state machine, with its escrow beside it."""

    payment: state.Ledger
    terms: ledger.Terms
    escrow: ledger.Escrow | None = None

    def step(self, kind: str, fraction: int | None) -> None:
        unit = money.minor_unit(self.terms.currency)
        try:
            if kind == "capture":
                wanted = self._part(self.payment.authorized, fraction, unit)
                amount = state.plan_capture(self.payment, wanted)
                self.payment = state.apply(self.payment, state.Fact.CAPTURED, amount)
            elif kind == "refund":
                wanted = self._part(self.payment.refundable, fraction, unit)
                amount = state.plan_refund(self.payment, wanted)
                self.payment = state.apply(self.payment, state.Fact.REFUNDED, amount)
            elif kind == "void":
                state.plan_void(self.payment)
                self.payment = state.apply(self.payment, state.Fact.VOIDED)
            else:
                self.escrow = ledger.release(
                    self.escrow, payment_status=self.payment.status, refund_pending=False
                )
                return
        except PayrelayError:
            return
        self.escrow = ledger.follow(
            self.escrow,
            self.terms,
            self.payment.status,
            self.payment.captured,
            self.payment.refunded,
        )

    @staticmethod
    def _part(whole: Decimal, fraction: int | None, unit: Decimal) -> Decimal | None:
        if fraction is None:
            return None
        return max((whole * fraction / 100).quantize(unit), unit)


steps = st.lists(
    st.tuples(
        st.sampled_from(["capture", "refund", "release", "void"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    ),
    max_size=10,
)


@settings(max_examples=400, deadline=None)
@given(
    currency=st.sampled_from(CURRENCIES),
    minor_units=st.integers(min_value=1, max_value=10**12),
    rate=st.decimals(min_value=0, max_value="0.999999", places=6),
    manual=st.booleans(),
    plan=steps,
)
def test_the_parts_always_add_up_to_the_captured_amount(currency, minor_units, rate, manual, plan):
    amount = Decimal(minor_units) * money.minor_unit(currency)
    split = money.split_commission(amount, rate, currency)
    model = Model(
        payment=state.Ledger(status=PaymentStatus.PENDING, amount=amount),
        terms=ledger.Terms(amount=amount, commission=split.commission, currency=currency),
    )
    first = state.Fact.AUTHORIZED if manual else state.Fact.CAPTURED
    model.payment = state.apply(model.payment, first)
    model.escrow = ledger.follow(
        None, model.terms, model.payment.status, model.payment.captured, model.payment.refunded
    )
    assert model.escrow is not None
    for kind, fraction in plan:
        before = model.escrow
        model.step(kind, fraction)
        escrow = model.escrow
        assert escrow is not None
        escrow.check_invariants()
        # commission + seller share + refunded = captured, with the payment's own numbers.
        assert escrow.captured == model.payment.captured
        assert escrow.refunded == model.payment.refunded
        assert escrow.commission + escrow.seller + escrow.refunded == model.payment.captured
        assert min(escrow.commission, escrow.seller, escrow.refunded, escrow.seller_debt) >= 0
        # Never more than the creation's split; a refund never raises either part.
        assert escrow.commission <= split.commission
        assert escrow.seller <= split.seller_amount
        if before.captured == escrow.captured:
            assert escrow.commission <= before.commission
            assert escrow.seller <= before.seller
        # A payout, once made, never changes; the debt is what was paid out beyond the share.
        if before.released is not None:
            assert escrow.released == before.released
        if escrow.released is not None:
            assert escrow.seller_debt == escrow.released - escrow.seller
        if model.payment.status is PaymentStatus.VOIDED:
            assert escrow.status is EscrowStatus.CANCELLED
