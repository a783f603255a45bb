"""Property tests of the pure counting rules: whatever facts a payment goes through, in any
order and number, the counters its events added equal those of its final state, which is what
the rebuild sums from the payment's columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from payrelay.enums import PaymentStatus
from payrelay.kit.money import commission_of_net, currency_exponent, split_commission
from payrelay.payment import state
from payrelay.payment.state import Fact, Ledger
from payrelay.statistics.counters import Counters, Terms, changed, created, seconds_between

CREATED_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(list(Fact)),
        st.integers(min_value=0, max_value=2_000_000),  # minor units; 0 means "no amount"
        st.integers(min_value=0, max_value=90_000_000),  # microseconds since the last step
    ),
    max_size=14,
)


def final_counters(
    terms: Terms, ledger: Ledger, authorized_at: datetime | None, failed_at: datetime | None
) -> Counters:
    """The rebuild's rule for one payment, from its final columns."""
    decided_at = authorized_at or failed_at
    kept = ledger.captured - ledger.refunded
    return Counters(
        total_requests=1,
        successful_payments=int(ledger.captured > 0),
        failed_payments=int(ledger.status is PaymentStatus.FAILED),
        total_amount=terms.amount,
        successful_amount=ledger.captured,
        refunded_amount=ledger.refunded,
        commission_amount=commission_of_net(
            kept, terms.amount, terms.commission, terms.currency
        ).commission,
        processing_time_total=0 if decided_at is None else seconds_between(CREATED_AT, decided_at),
        processing_time_count=int(decided_at is not None),
    )


@given(
    currency=st.sampled_from(["VND", "USD", "KWD"]),
    amount_minor=st.integers(min_value=1, max_value=1_500_000),
    rate=st.decimals(min_value=0, max_value=Decimal("0.3"), places=4),
    steps=steps,
)
def test_the_events_of_a_payment_add_up_to_its_final_state(currency, amount_minor, rate, steps):
    exponent = currency_exponent(currency)
    amount = Decimal(amount_minor).scaleb(-exponent)
    commission = split_commission(amount, rate, currency).commission
    terms = Terms(amount, commission, currency, CREATED_AT)
    ledger = Ledger(status=PaymentStatus.PENDING, amount=amount)
    counted = created(terms)
    now = CREATED_AT
    authorized_at: datetime | None = None
    failed_at: datetime | None = None
    for fact, minor, elapsed in steps:
        now += timedelta(microseconds=elapsed)
        value = Decimal(minor).scaleb(-exponent) if minor else None
        try:
            after = state.apply(ledger, fact, value)
        except ValueError:  # a refund or a receipt without an amount
            continue
        if after == ledger:  # nothing is written, nothing is counted
            continue
        after.check_invariants()
        counted += changed(terms, ledger, after, now=now)
        # The timestamps `write_ledger` stamps on a change of status.
        if after.status is not ledger.status:
            if after.status is PaymentStatus.AUTHORIZED:
                authorized_at = now
            elif after.status is PaymentStatus.CAPTURED:
                authorized_at = authorized_at or now
            elif after.status is PaymentStatus.FAILED:
                failed_at = now
        ledger = after
    assert counted == final_counters(terms, ledger, authorized_at, failed_at)


def test_a_refund_takes_back_the_commission_of_what_it_returns():
    terms = Terms(Decimal("10.00"), Decimal("0.30"), "USD", CREATED_AT)
    captured = state.apply(Ledger(PaymentStatus.PENDING, Decimal("10.00")), Fact.CAPTURED)
    refunded = state.apply(captured, Fact.REFUNDED, Decimal("3.33"))
    step = changed(terms, captured, refunded, now=CREATED_AT + timedelta(days=2))
    assert step == Counters(refunded_amount=Decimal("3.33"), commission_amount=Decimal("-0.10"))


def test_processing_time_is_whole_seconds_rounded_down_and_never_negative():
    assert (
        seconds_between(CREATED_AT, CREATED_AT + timedelta(seconds=59, microseconds=999_999)) == 59
    )
    assert seconds_between(CREATED_AT, CREATED_AT - timedelta(seconds=3)) == 0
