"""Property tests of the pure state machine: invariants, refusals, idempotent facts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrelay.enums import PaymentStatus
from payrelay.exceptions import PayrelayError
from payrelay.payment import state
from payrelay.payment.state import Fact, Ledger

AMOUNT = Decimal(1000)

commands = st.lists(
    st.tuples(
        st.sampled_from(["capture", "void", "refund", "decline_next"]),
        st.one_of(st.none(), st.integers(min_value=-5, max_value=1200).map(Decimal)),
    ),
    max_size=12,
)


def start(method: str) -> Ledger:
    ledger = Ledger(status=PaymentStatus.PENDING, amount=AMOUNT)
    fact = Fact.AUTHORIZED if method == "manual" else Fact.CAPTURED
    return state.apply(ledger, fact, AMOUNT)


def run(ledger: Ledger, kind: str, amount: Decimal | None, gateway_declines: bool) -> Ledger:
    """One merchant command: plan (may refuse), reserve, then the gateway's answer."""
    if kind == "capture":
        planned = state.plan_capture(ledger, amount)
        reserved = replace(ledger, capture_pending=planned)
        reserved.check_invariants()
        return ledger if gateway_declines else state.apply(ledger, Fact.CAPTURED, planned)
    if kind == "void":
        state.plan_void(ledger)
        return ledger if gateway_declines else state.apply(ledger, Fact.VOIDED)
    planned = state.plan_refund(ledger, amount)
    reserved = replace(ledger, refund_pending=planned)
    reserved.check_invariants()
    return ledger if gateway_declines else state.apply(ledger, Fact.REFUNDED, planned)


@given(method=st.sampled_from(["manual", "automatic"]), steps=commands)
def test_random_commands_keep_the_invariants(method, steps):
    ledger = start(method)
    decline_next = False
    for kind, amount in steps:
        if kind == "decline_next":
            decline_next = True
            continue
        before = ledger
        try:
            ledger = run(ledger, kind, amount, decline_next)
        except PayrelayError as refused:
            assert 400 <= refused.status_code < 500
            assert ledger == before  # a refused command changes nothing
        decline_next = False
        ledger.check_invariants()
        assert Decimal(0) <= ledger.refunded <= ledger.captured <= ledger.authorized <= AMOUNT
        if ledger.status is PaymentStatus.VOIDED:
            assert ledger.captured == 0
        if ledger.status is PaymentStatus.REFUNDED:
            assert ledger.refunded == ledger.captured > 0
        if ledger.status is PaymentStatus.PARTIALLY_REFUNDED:
            assert 0 < ledger.refunded < ledger.captured


facts = st.lists(
    st.tuples(
        st.sampled_from(list(Fact)),
        st.one_of(st.none(), st.integers(min_value=1, max_value=1000).map(Decimal)),
    ),
    max_size=10,
)


@given(events=facts)
def test_gateway_facts_never_break_invariants_and_are_idempotent(events):
    ledger = Ledger(status=PaymentStatus.PENDING, amount=AMOUNT)
    additive = (Fact.REFUNDED, Fact.FUNDS_RECEIVED)  # amounts that add up, once per operation
    for fact, amount in events:
        if fact in additive and amount is None:
            continue
        after = state.apply(ledger, fact, amount)
        after.check_invariants()
        if fact not in additive:
            # The same fact again is a no-op (webhooks arrive twice).
            assert state.apply(after, fact, amount) == after
        if ledger.status.is_terminal:
            assert after.status is ledger.status  # nothing leaves a terminal state
            if fact is not Fact.FUNDS_RECEIVED:  # late money is still counted
                assert after == ledger
        ledger = after


@given(
    receipts=st.lists(st.integers(min_value=1, max_value=700).map(Decimal), min_size=1, max_size=6)
)
def test_transfers_add_up_and_capture_once_they_reach_the_amount(receipts):
    ledger = Ledger(status=PaymentStatus.PENDING, amount=AMOUNT)
    total = Decimal(0)
    for receipt in receipts:
        ledger = state.apply(ledger, Fact.FUNDS_RECEIVED, receipt)
        total += receipt
        ledger.check_invariants()
        assert ledger.received == total
        if total >= AMOUNT:
            assert (ledger.status, ledger.captured) == (PaymentStatus.CAPTURED, AMOUNT)
        else:
            assert (ledger.status, ledger.captured) == (PaymentStatus.PENDING, 0)


@given(
    first=st.sampled_from([Fact.AUTHORIZED, Fact.CAPTURED, Fact.DECLINED, Fact.EXPIRED]),
    stale=st.sampled_from([Fact.PENDING, Fact.AUTHORIZED]),
)
def test_a_stale_fact_after_a_newer_one_changes_nothing(first, stale):
    ledger = state.apply(Ledger(status=PaymentStatus.PENDING, amount=AMOUNT), first, AMOUNT)
    if first is Fact.AUTHORIZED and stale is Fact.AUTHORIZED:
        return
    assert state.apply(ledger, stale, AMOUNT) == ledger


def test_capture_is_refused_while_another_is_in_flight():
    ledger = replace(start("manual"), capture_pending=Decimal(10))
    with pytest.raises(PayrelayError) as refused:
        state.plan_capture(ledger, None)
    assert refused.value.code == "operation_in_progress"


def test_refund_reservations_prevent_over_refund():
    ledger = replace(start("automatic"), refund_pending=Decimal(900))
    assert state.plan_refund(ledger, None) == Decimal(100)
    with pytest.raises(PayrelayError) as refused:
        state.plan_refund(ledger, Decimal(101))
    assert refused.value.code == "refund_exceeds_captured"


def test_partial_capture_then_refunds_to_zero():
    ledger = start("manual")
    ledger = state.apply(ledger, Fact.CAPTURED, state.plan_capture(ledger, Decimal(600)))
    assert (ledger.status, ledger.captured) == (PaymentStatus.CAPTURED, Decimal(600))
    with pytest.raises(PayrelayError):
        state.plan_capture(ledger, Decimal(1))  # the rest was released
    ledger = state.apply(ledger, Fact.REFUNDED, state.plan_refund(ledger, Decimal(100)))
    assert ledger.status is PaymentStatus.PARTIALLY_REFUNDED
    ledger = state.apply(ledger, Fact.REFUNDED, state.plan_refund(ledger, None))
    assert (ledger.status, ledger.refunded) == (PaymentStatus.REFUNDED, Decimal(600))


@pytest.mark.parametrize(
    ("kind", "state_now", "expected"),
    [
        ("capture", "captured", "succeeded"),
        ("capture", "authorized", "declined"),
        ("capture", "pending", None),
        ("void", "voided", "succeeded"),
        ("void", "cancelled", "succeeded"),
        ("void", "authorized", "declined"),
        ("refund", "captured", None),
    ],
)
def test_a_lost_capture_or_void_is_settled_by_the_gateways_state(kind, state_now, expected):
    from payrelay.connectors.base import PaymentOutcome
    from payrelay.enums import OperationKind
    from payrelay.payment.results import _settled_by_state

    settled = _settled_by_state(OperationKind(kind), PaymentOutcome(state_now))
    assert (settled.value if settled else None) == expected
