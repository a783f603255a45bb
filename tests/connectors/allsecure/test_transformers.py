"""The pure mapping between payrelay and IXOPAY's JSON: configuration, ids and amounts, answers,
status-API results, callbacks as events, and error codes as clear decline reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payrelay.connectors.allsecure import codes, transformers
from payrelay.connectors.allsecure.transformers import MalformedResponse
from payrelay.connectors.base import (
    ConfigInvalid,
    Decline,
    OperationOutcome,
    PaymentOutcome,
)
from payrelay.enums import CaptureMethod
from tests.connectors.allsecure.helpers import CONFIG

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
AUTOMATIC, MANUAL = CaptureMethod.AUTOMATIC, CaptureMethod.MANUAL


def test_config_needs_the_four_credentials_and_nothing_else():
    assert transformers.AllSecureConfig.of(CONFIG).as_dict() == CONFIG
    for broken in (
        {key: value for key, value in CONFIG.items() if key != "password"},
        {**CONFIG, "shared_secret": ""},
        {**CONFIG, "username": " user"},
        {**CONFIG, "username": "a:b"},
        {**CONFIG, "api_key": "x" * 51},
        {**CONFIG, "api_key": "a/b"},
        {**CONFIG, "currency": "RSD"},
    ):
        with pytest.raises(ConfigInvalid):
            transformers.AllSecureConfig.of(broken)


def test_our_keys_are_the_merchant_transaction_ids():
    key = f"payrelay-{uuid.uuid4()}"
    assert transformers.transaction_id(key) == key
    assert len(key) == 45
    odd = "key with spaces/and slashes" * 3
    derived = transformers.transaction_id(odd)
    assert derived == transformers.transaction_id(odd)  # deterministic: a resend is the same id
    assert len(derived) <= 50
    assert transformers.TRANSACTION_ID.fullmatch(derived)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1250.5"), "RSD", "1250.50"),
        (Decimal(150000), "RSD", "150000.00"),
        (Decimal("9.99"), "EUR", "9.99"),
        (Decimal("9999999999.99"), "EUR", "9999999999.99"),
    ],
)
def test_amounts_are_decimal_strings_in_the_minor_unit(amount, currency, text):
    assert transformers.amount_text(amount, currency) == text


@pytest.mark.parametrize("amount", [Decimal("10000000000.00"), Decimal("1.001")])
def test_amounts_the_gateway_cannot_take_are_refused(amount):
    with pytest.raises(ValueError):  # noqa: PT011 (TooPrecise and the pattern alike)
        transformers.amount_text(amount, "EUR")


def test_metadata_carries_the_payment_id_and_nothing_else_is_read_as_one():
    payment_id = uuid.uuid4()
    assert transformers.payment_id_of(transformers.metadata(payment_id)) == payment_id
    for other in (None, "", "payrelay:nope", str(payment_id), 42):
        assert transformers.payment_id_of(other) is None


def test_a_finished_debit_is_captured_and_a_finished_preauthorization_authorized():
    body = {"success": True, "uuid": "u1", "purchaseId": "20260102-u1", "returnType": "FINISHED"}
    captured = transformers.create_result(body, AUTOMATIC)
    assert (captured.outcome, captured.gateway_status) == (PaymentOutcome.CAPTURED, "SUCCESSFUL")
    assert (captured.gateway_transaction_id, captured.gateway_reference_id) == ("u1", "20260102-u1")
    assert transformers.create_result(body, MANUAL).outcome is PaymentOutcome.AUTHORIZED


def test_a_redirect_is_the_next_action():
    body = {
        "success": True,
        "uuid": "u2",
        "returnType": "REDIRECT",
        "redirectUrl": "https://gateway.ixopay.com/redirect/u2/ABC",
    }
    result = transformers.create_result(body, AUTOMATIC)
    assert (result.outcome, result.gateway_status) == (PaymentOutcome.PENDING, "REDIRECT")
    assert result.next_action is not None
    assert result.next_action.as_dict() == {"type": "redirect", "url": body["redirectUrl"]}
    with pytest.raises(MalformedResponse):
        transformers.create_result({**body, "redirectUrl": "javascript:alert(1)"}, AUTOMATIC)


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "returnType": "FINISHED"},  # no uuid: nothing to capture or refund
        {"success": True, "uuid": "u", "returnType": "SOMETHING"},
        {"uuid": "u", "returnType": "FINISHED"},
    ],
)
def test_answers_we_cannot_read_are_malformed(body):
    with pytest.raises(MalformedResponse):
        transformers.create_result(body, AUTOMATIC)


def test_an_error_answer_is_a_decline_with_the_gateway_text():
    body = {
        "success": False,
        "uuid": "u3",
        "returnType": "ERROR",
        "errors": [
            {
                "errorMessage": "Card expired",
                "errorCode": 2009,
                "adapterMessage": "Expired card",
                "adapterCode": "54",
            }
        ],
    }
    result = transformers.create_result(body, AUTOMATIC)
    assert (result.outcome, result.gateway_status) == (PaymentOutcome.DECLINED, "ERROR")
    assert result.gateway_transaction_id == "u3"
    assert result.decline == Decline(
        "expired_card", "The card has expired", "2009", "Card expired (acquirer 54: Expired card)"
    )


def test_operation_answers():
    finished = transformers.operation_result(
        {"success": True, "uuid": "c1", "returnType": "FINISHED"}
    )
    assert (finished.outcome, finished.gateway_operation_id) == (OperationOutcome.SUCCEEDED, "c1")
    pending = transformers.operation_result(
        {"success": True, "uuid": "c2", "returnType": "PENDING"}
    )
    assert pending.outcome is OperationOutcome.PENDING
    declined = transformers.operation_result(
        {
            "success": False,
            "returnType": "ERROR",
            "errors": [{"errorCode": 1006, "errorMessage": "x"}],
        }
    )
    assert declined.outcome is OperationOutcome.DECLINED
    assert declined.decline is not None
    assert declined.decline.code == "operation_not_allowed"


def test_general_errors_are_told_apart_from_transaction_errors():
    duplicate = {
        "success": False,
        "errorMessage": "The transaction ID 'x' already exists!",
        "errorCode": 3004,
    }
    assert transformers.general_error(duplicate) == 3004
    assert (
        transformers.general_error({"success": False, "returnType": "ERROR", "errors": []}) is None
    )
    assert transformers.general_error({"success": True}) is None
    refusal = transformers.refusal(1002, {"errorMessage": "amount: 'amount' is required"})
    assert refusal == Decline(
        "invalid_request", refusal.message, "1002", "amount: 'amount' is required"
    )


def status(**body):
    return transformers.status_of(
        {"success": True, "uuid": "p1", "purchaseId": "20260102-p1", **body}
    )


@pytest.mark.parametrize(
    ("kind", "state", "outcome", "gateway_status"),
    [
        ("DEBIT", "SUCCESS", PaymentOutcome.CAPTURED, "SUCCESSFUL"),
        (
            "debit",
            "SUCCESS",
            PaymentOutcome.CAPTURED,
            "SUCCESSFUL",
        ),  # the docs' sample is lower case
        ("PREAUTHORIZE", "SUCCESS", PaymentOutcome.AUTHORIZED, "SUCCESSFUL"),
        ("DEBIT", "REDIRECT", PaymentOutcome.PENDING, "REDIRECT"),
        ("DEBIT", "PENDING", PaymentOutcome.PENDING, "PENDING"),
        ("DEBIT", "ERROR", PaymentOutcome.DECLINED, "ERROR"),
        ("PREAUTHORIZE", "CANCELLED", PaymentOutcome.DECLINED, "CANCELLED"),
    ],
)
def test_the_payment_as_the_status_api_tells_it(kind, state, outcome, gateway_status):
    result = transformers.payment_status(
        status(transactionType=kind, transactionStatus=state, amount="9.99")
    )
    assert (result.outcome, result.gateway_status) == (outcome, gateway_status)
    assert (result.gateway_transaction_id, result.gateway_reference_id) == ("p1", "20260102-p1")
    assert result.amount == Decimal("9.99")
    assert (result.decline is not None) is (outcome is PaymentOutcome.DECLINED)


def test_a_status_error_carries_the_docs_code_and_message():
    result = transformers.payment_status(
        status(
            transactionType="debit",
            transactionStatus="ERROR",
            code="2001",
            message="The customer cancelled permission for his payment instrument externally.",
        )
    )
    assert result.decline == Decline(
        "account_closed",
        "The payment account was closed",
        "2001",
        "The customer cancelled permission for his payment instrument externally.",
    )


def test_operations_in_the_status_api():
    assert (
        transformers.operation_status(
            status(transactionType="CAPTURE", transactionStatus="SUCCESS")
        )
        is OperationOutcome.SUCCEEDED
    )
    assert (
        transformers.operation_status(status(transactionType="REFUND", transactionStatus="ERROR"))
        is OperationOutcome.DECLINED
    )
    assert (
        transformers.operation_status(status(transactionType="VOID", transactionStatus="PENDING"))
        is None
    )
    with pytest.raises(MalformedResponse):  # a capture is not a payment
        transformers.payment_status(status(transactionType="CAPTURE", transactionStatus="SUCCESS"))
    with pytest.raises(MalformedResponse):
        transformers.status_of({"success": True, "uuid": "p1", "transactionStatus": "MAYBE"})
    assert transformers.not_found().found is False


def callback(**body):
    base = {"result": "OK", "uuid": "u9", "merchantTransactionId": "m9", "transactionType": "DEBIT"}
    return transformers.callback_event({**base, **body}, NOW)


def test_callbacks_about_the_payment_move_it():
    payment_id = uuid.uuid4()
    paid = callback(amount="1250.50", merchantMetaData=transformers.metadata(payment_id))
    assert (paid.event_id, paid.event_type) == ("DEBIT:u9:OK", "debit.ok")
    assert (paid.outcome, paid.gateway_status, paid.amount) == (
        PaymentOutcome.CAPTURED,
        "SUCCESSFUL",
        Decimal("1250.50"),
    )
    assert (paid.payment_id, paid.gateway_transaction_id, paid.occurred_at) == (
        payment_id,
        "u9",
        NOW,
    )
    assert callback(transactionType="PREAUTHORIZE").outcome is PaymentOutcome.AUTHORIZED
    waiting = callback(result="PENDING")
    assert (waiting.outcome, waiting.event_id) == (PaymentOutcome.PENDING, "DEBIT:u9:PENDING")
    failed = callback(result="ERROR", errorCode=2006, errorMessage="Insufficient funds")
    assert failed.outcome is PaymentOutcome.DECLINED
    assert failed.decline == Decline(
        "insufficient_funds", "Insufficient funds", "2006", "Insufficient funds"
    )


@pytest.mark.parametrize("kind", ["CAPTURE", "VOID", "REFUND", "CHARGEBACK"])
def test_callbacks_about_operations_move_nothing(kind):
    event = callback(transactionType=kind, referenceUuid="p1", merchantMetaData="payrelay:x")
    assert event.outcome is PaymentOutcome.PENDING
    assert (event.gateway_transaction_id, event.payment_id) == ("p1", None)
    assert callback(transactionType=kind, result="ERROR").outcome is PaymentOutcome.PENDING


@pytest.mark.parametrize(
    "body",
    [
        {"result": "MAYBE"},
        {"uuid": None},
        {"transactionType": None},
        {"merchantTransactionId": 1},
        {"amount": "lots"},
    ],
)
def test_callbacks_we_cannot_read(body):
    with pytest.raises(MalformedResponse):
        callback(**body)


def test_every_code_of_the_spec_has_a_reason():
    spec = [*range(1000, 1009), 1010, 9999, *range(2001, 2022), *range(3001, 3006), 4001, 4002]
    for code in spec:
        assert code in codes.ERROR_CODES, code
    reasons = {entry.reason for entry in codes.ERROR_CODES.values()}
    assert {
        "insufficient_funds",
        "card_declined",
        "authentication_failed",
        "expired_card",
    } <= reasons
    assert codes.lookup(7042).reason == "schedule_error"
    assert codes.lookup(1234).reason == "allsecure_1234"
