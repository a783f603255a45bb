"""Every resultCode of MoMo's table (spec A8) has its meaning in payrelay, in each place it can
appear: an IPN or a query (the payment's state), the answer to create, the answer to an
operation. The table is typed here again from the spec, not read from the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payrelay.connectors.base import OperationOutcome, PaymentOutcome
from payrelay.connectors.momo import codes, transformers
from payrelay.enums import CaptureMethod

PENDING = {1000, 7000, 7002, 8000}
MERCHANT_ERRORS = {10, 11, 12, 13, 20, 21, 22, 40, 41, 42, 43, 45, 47}
FINAL_FAILURES = {98, 99, 1001, 1002, 1004, 1006, 1007, 1026, 2019, 4001, 4002, 4100}
EXPIRED = {1005}  # the pay link expired unpaid
RELEASED = {1003, 1017}  # an authorization cancelled (by MoMo, by the merchant)
REFUND_FAILURES = {1080, 1081, 1088}
SPEC_CODES = (
    {0, 9000} | PENDING | MERCHANT_ERRORS | FINAL_FAILURES | EXPIRED | RELEASED | REFUND_FAILURES
)


def test_the_table_holds_every_code_of_the_spec_and_no_other():
    assert set(codes.RESULT_CODES) == SPEC_CODES


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_each_code_has_a_description_and_declines_have_a_reason(code):
    entry = codes.lookup(code)
    assert entry is not None
    assert entry.description
    decline = transformers.decline_for(code)
    assert decline.gateway_code == str(code)
    if code not in {0, 9000} | PENDING:  # a code that can decline has a reason of ours
        assert not decline.code.startswith("momo_")
    assert decline.message == entry.description
    assert transformers.decline_for(code, "Giao dịch bị từ chối.").message == (
        "Giao dịch bị từ chối."
    )


def _state(code: int, manual: bool | None) -> PaymentOutcome:
    return transformers.payment_outcome(code, manual)


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_the_payment_state_of_every_code(code):
    if code == 0:
        expected = PaymentOutcome.CAPTURED
    elif code in FINAL_FAILURES:
        expected = PaymentOutcome.DECLINED
    elif code in EXPIRED:
        expected = PaymentOutcome.EXPIRED
    elif code in RELEASED:
        expected = PaymentOutcome.VOIDED
    elif code == 9000:
        expected = PaymentOutcome.AUTHORIZED
    else:  # pending, refusals of a request, refund results: nothing happened to the payment
        expected = PaymentOutcome.PENDING
    assert _state(code, manual=True) == expected
    if code == 9000:  # "treat as paid in the one-step flow"
        assert _state(code, manual=False) == PaymentOutcome.CAPTURED
        assert _state(code, manual=None) == PaymentOutcome.AUTHORIZED
    else:
        assert _state(code, manual=False) == expected


@pytest.mark.parametrize("code", [-1, 1, 1008, 9999, 123456])
def test_an_unknown_code_is_pending_never_money(code):
    assert _state(code, manual=False) is PaymentOutcome.PENDING
    with pytest.raises(transformers.OutcomeAmbiguous):
        transformers.operation_result({"resultCode": code})
    with pytest.raises(transformers.OutcomeAmbiguous):
        transformers.create_result(200, {"resultCode": code})


def _create_answer(code: int) -> dict:
    return {
        "partnerCode": "MOMO",
        "requestId": "payrelay-1",
        "orderId": "20261122-0-ABC",
        "amount": 50000,
        "responseTime": 1721720663942,
        "message": "m",
        "resultCode": code,
        "payUrl": "https://test-payment.momo.vn/v2/gateway/pay?t=x&s=y",
        "deeplink": "momo://app?sid=x",
        "qrCodeUrl": "00020101021226110007vn.momo",
    }


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_the_answer_to_create_for_every_code(code):
    answer = _create_answer(code)
    if code == 0:
        result = transformers.create_result(200, answer)
        assert result.outcome is PaymentOutcome.PENDING
        assert result.next_action is not None
        assert result.next_action.as_dict() == {"type": "redirect", "url": answer["payUrl"]}
        assert result.raw["deeplink"] == answer["deeplink"]
        assert result.raw["qrCodeUrl"] == answer["qrCodeUrl"]
        assert result.gateway_transaction_id == answer["orderId"]
    elif code in PENDING | {9000, 40, 43}:  # in flight or answered before: ask the query
        with pytest.raises(transformers.OutcomeAmbiguous):
            transformers.create_result(422, answer)
    else:  # refused: nothing will be charged
        result = transformers.create_result(400, answer)
        assert result.outcome is PaymentOutcome.DECLINED
        assert result.decline is not None
        assert result.decline.gateway_code == str(code)
        assert result.next_action is None


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_the_answer_to_an_operation_for_every_code(code):
    answer = {"resultCode": code, "transId": 4088878654, "message": "m"}
    if code == 0:
        result = transformers.operation_result(answer)
        assert result.outcome is OperationOutcome.SUCCEEDED
        assert result.gateway_operation_id == "4088878654"
    elif code in (7000, 40):
        with pytest.raises(transformers.OutcomeAmbiguous):
            transformers.operation_result(answer)
    elif code in PENDING:
        assert transformers.operation_result(answer).outcome is OperationOutcome.PENDING
    else:
        result = transformers.operation_result(answer)
        assert result.outcome is OperationOutcome.DECLINED
        assert result.decline is not None
        assert result.decline.gateway_code == str(code)


def _query_answer(code: int, **extra) -> dict:
    return {
        "partnerCode": "MOMO",
        "requestId": "payrelay-q-1",
        "orderId": "20261122-0-ABC",
        "extraData": transformers.extra_data(uuid.uuid4(), CaptureMethod.MANUAL),
        "amount": 50000,
        "transId": 4088878654,
        "payType": "qr",
        "resultCode": code,
        "refundTrans": [],
        "message": "m",
        "responseTime": 1721720663942,
        **extra,
    }


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_the_answer_to_a_status_query_for_every_code(code):
    answer = _query_answer(code)
    if code == 42:
        result = transformers.status_result(answer)
        assert result.found is False
    elif code in MERCHANT_ERRORS:  # the query itself was refused: ask again later
        with pytest.raises(transformers.MalformedResponse):
            transformers.status_result(answer)
    else:
        result = transformers.status_result(answer)
        assert result.found
        assert result.outcome == _state(code, manual=True)
        assert (result.decline is not None) == (result.outcome is PaymentOutcome.DECLINED)


def test_a_query_reports_our_refunds_by_their_order_id():
    answer = _query_answer(
        0,
        refundTrans=[
            {"orderId": "payrelay-a", "amount": 20000, "resultCode": 0, "transId": 1},
            {"orderId": "payrelay-b", "amount": 5000, "resultCode": 1081, "transId": 2},
            {"orderId": "payrelay-c", "amount": 5000, "resultCode": 7000, "transId": 3},
        ],
    )
    result = transformers.status_result(answer)
    assert result.outcome is PaymentOutcome.CAPTURED
    assert result.refunded_amount == Decimal(20000)
    assert result.operations == {
        "payrelay-a": OperationOutcome.SUCCEEDED,
        "payrelay-b": OperationOutcome.DECLINED,
    }


def test_an_ipn_event_is_deterministic_and_names_our_payment():
    payment_id = uuid.uuid4()
    body = {
        "partnerCode": "MOMO",
        "orderId": "20261122-0-ABC",
        "requestId": "payrelay-x",
        "amount": 50000,
        "orderInfo": "Thanh toán",
        "orderType": "momo_wallet",
        "transId": 4088878654,
        "resultCode": 1006,
        "message": "Giao dịch bị từ chối bởi người dùng.",
        "payType": "qr",
        "responseTime": 1721720663942,
        "extraData": transformers.extra_data(payment_id, CaptureMethod.AUTOMATIC),
        "signature": "ignored here",
    }
    event = transformers.ipn_event(body)
    assert event == transformers.ipn_event(dict(body))
    assert event.event_id == "payrelay-x:4088878654:1006"
    assert event.payment_id == payment_id
    assert event.gateway_transaction_id == "20261122-0-ABC"
    assert event.outcome is PaymentOutcome.DECLINED
    assert event.decline is not None
    assert event.decline.code == "customer_cancelled"
    assert event.decline.message == body["message"]
    assert event.amount == Decimal(50000)
    assert event.occurred_at == datetime(2024, 7, 23, 7, 44, 23, 942000, tzinfo=UTC)
