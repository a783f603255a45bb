"""Pure mapping: Stripe's amounts, the account configuration, the Checkout Session we ask for,
and what a status query's objects say about the payment and our operations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payrelay.connectors.base import (
    ConfigInvalid,
    CreatePayment,
    OperationOutcome,
    PaymentOutcome,
)
from payrelay.connectors.stripe import currencies, transformers
from payrelay.connectors.stripe.connector import StripeConnector
from payrelay.connectors.stripe.transformers import MalformedResponse, StripeConfig
from payrelay.enums import CaptureMethod

# --- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.50", "USD", 1050),
        ("0.01", "eur", 1),
        ("1500", "JPY", 1500),
        ("1500", "VND", 1500),
        ("1500", "MGA", 1500),  # zero-decimal at Stripe, two decimals in ISO 4217
        ("1500.00", "MGA", 1500),
        ("12.34", "KWD", 12340),  # three-decimal, last digit 0
        ("12.340", "BHD", 12340),
        ("500", "ISK", 50000),  # whole krónur in Stripe's two-decimal form
        ("999999.99", "USD", 99_999_999),
        ("1234.56", "HUF", 123456),
    ],
)
def test_minor_units(amount, currency, minor):
    assert currencies.to_minor(Decimal(amount), currency) == minor
    assert currencies.from_minor(minor, currency) == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("12.345", "KWD", "amount_too_precise"),
        ("10.50", "MGA", "amount_too_precise"),
        ("10.5", "JPY", "amount_too_precise"),
        ("0.001", "USD", "amount_too_precise"),
        ("1000000.00", "USD", "amount_too_large"),
        ("0", "USD", "invalid_amount"),
        ("1", "CLF", "unsupported_currency"),
        ("1", "XAU", "unsupported_currency"),
    ],
)
def test_amounts_stripe_cannot_take(amount, currency, code):
    with pytest.raises(currencies.AmountNotSendable) as refused:
        currencies.to_minor(Decimal(amount), currency)
    assert refused.value.code == code


def test_the_largest_amounts():
    assert currencies.MAX_AMOUNTS["USD"] == Decimal("999999.99")
    assert currencies.MAX_AMOUNTS["JPY"] == Decimal(99_999_999)
    assert currencies.MAX_AMOUNTS["KWD"] == Decimal("99999.99")
    assert currencies.MAX_AMOUNTS["ISK"] == Decimal(999_999)
    assert "CLF" not in currencies.MAX_AMOUNTS
    capabilities = StripeConnector.capabilities
    assert capabilities.max_amount.get("USD") == Decimal("999999.99")
    assert capabilities.min_amount.get("USD") == Decimal("0.50")
    assert capabilities.reports_operations


# --- configuration -----------------------------------------------------------------------------


def test_config():
    config = {"secret_key": "sk_test_abc", "webhook_secret": "whsec_abc"}
    assert StripeConnector.prepare_config(config) == config
    assert StripeConfig.of({**config, "secret_key": "rk_live_abc"}).secret_key == "rk_live_abc"


@pytest.mark.parametrize(
    "config",
    [
        {"webhook_secret": "whsec_abc"},
        {"secret_key": "sk_test_abc"},
        {"secret_key": "pk_test_abc", "webhook_secret": "whsec_abc"},
        {"secret_key": "abc", "webhook_secret": "whsec_abc"},
        {"secret_key": "sk_test_abc", "webhook_secret": "abc"},
        {"secret_key": " sk_test_abc", "webhook_secret": "whsec_abc"},
        {"secret_key": "sk_test_abc", "webhook_secret": "whsec_abc", "other": 1},
    ],
)
def test_bad_config(config):
    with pytest.raises(ConfigInvalid):
        StripeConfig.of(config)


# --- the session we ask for --------------------------------------------------------------------


def create(**overrides) -> CreatePayment:
    fields = {
        "payment_id": uuid.UUID(int=1),
        "operation_id": uuid.UUID(int=2),
        "idempotency_key": f"payrelay-{uuid.UUID(int=2)}",
        "amount": Decimal("19.99"),
        "currency": "EUR",
        "capture_method": CaptureMethod.MANUAL,
        "order_reference": "ORD #42/x",
        "order_id": "42",
        "description": None,
        "customer_email": None,
        "return_url": None,
        "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
        **overrides,
    }
    return CreatePayment(**fields)


def test_checkout_params():
    params = transformers.checkout_params(create(), "https://payrelay.example/return/x")
    assert params["line_items"] == [
        {
            "quantity": 1,
            "price_data": {
                "currency": "eur",
                "unit_amount": 1999,
                "product_data": {"name": "Order 42"},
            },
        }
    ]
    assert params["payment_intent_data"] == {
        "capture_method": "manual",
        "metadata": {
            "payrelay_payment_id": str(uuid.UUID(int=1)),
            "payrelay_order_reference": "ORD #42/x",
        },
    }
    assert params["client_reference_id"] == "ORD-42-x"
    assert "customer_email" not in params
    assert "expires_at" not in params  # so a retry sends the very same request


def test_checkout_params_do_not_depend_on_the_time():
    first = transformers.checkout_params(create(), "https://r")
    later = transformers.checkout_params(
        create(expires_at=datetime(2031, 1, 1, tzinfo=UTC)), "https://r"
    )
    assert first == later


# --- a status query ----------------------------------------------------------------------------


def session(status: str, intent: dict | None = None) -> dict:
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "amount_total": 10000,
        "currency": "usd",
        "metadata": {},
        "payment_intent": intent,
        "status": status,
    }


def intent(status: str, **fields) -> dict:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 10000,
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": "usd",
        "metadata": {},
        "status": status,
        "last_payment_error": None,
        **fields,
    }


def refund(key: str, status: str, amount: int) -> dict:
    return {
        "id": f"re_{key}",
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "metadata": {"payrelay_refund": key},
        "status": status,
    }


@pytest.mark.parametrize(
    ("session_status", "pi", "outcome", "amount"),
    [
        ("open", None, PaymentOutcome.PENDING, Decimal("100.00")),
        ("expired", None, PaymentOutcome.EXPIRED, Decimal("100.00")),
        (
            "complete",
            intent("requires_capture", amount_capturable=10000),
            PaymentOutcome.AUTHORIZED,
            Decimal("100.00"),
        ),
        (
            "complete",
            intent("succeeded", amount_received=6000),
            PaymentOutcome.CAPTURED,
            Decimal("60.00"),
        ),
        ("complete", intent("canceled"), PaymentOutcome.VOIDED, Decimal("100.00")),
        ("open", intent("requires_payment_method"), PaymentOutcome.PENDING, Decimal("100.00")),
        ("open", intent("requires_action"), PaymentOutcome.PENDING, Decimal("100.00")),
        ("expired", intent("canceled"), PaymentOutcome.DECLINED, Decimal("100.00")),
        ("expired", intent("processing"), PaymentOutcome.PENDING, Decimal("100.00")),
    ],
)
def test_status(session_status, pi, outcome, amount):
    result = transformers.status_result(session(session_status, pi), pi, [])
    assert (result.outcome, result.amount) == (outcome, amount)
    assert result.gateway_transaction_id == "cs_1"
    assert result.found


def test_a_decline_names_the_card_reason():
    error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}
    pi = intent("canceled", last_payment_error={**error, "message": "No money."})
    result = transformers.status_result(session("expired", pi), pi, [])
    assert result.decline is not None
    assert (result.decline.code, result.decline.gateway_code) == (
        "insufficient_funds",
        "card_declined",
    )


def test_our_operations_by_key():
    pi = intent(
        "succeeded",
        amount_received=9000,
        metadata={"payrelay_capture": "cap-1", "payrelay_void": "void-1"},
    )
    refunds = [
        refund("r1", "succeeded", 1000),
        refund("r2", "pending", 2000),
        refund("r3", "failed", 3000),
    ]
    result = transformers.status_result(session("complete", pi), pi, refunds)
    assert result.operations == {
        "cap-1": OperationOutcome.SUCCEEDED,
        "void-1": OperationOutcome.DECLINED,  # marked, but the intent was captured instead
        "r1": OperationOutcome.SUCCEEDED,
        "r2": OperationOutcome.PENDING,
        "r3": OperationOutcome.DECLINED,
    }
    assert result.refunded_amount == Decimal("10.00")
    assert result.captured_amount == Decimal("90.00")


def test_a_void_that_happened():
    pi = intent("canceled", metadata={"payrelay_void": "void-1"})
    result = transformers.status_result(session("complete", pi), pi, [])
    assert result.operations == {"void-1": OperationOutcome.SUCCEEDED}
    assert result.outcome is PaymentOutcome.VOIDED


def test_answers_we_cannot_read():
    with pytest.raises(MalformedResponse):
        transformers.capture_result(intent("requires_capture"))
    with pytest.raises(MalformedResponse):
        transformers.cancel_result(intent("succeeded"))
    with pytest.raises(MalformedResponse):
        transformers.refund_result(refund("r", "strange", 1))
    with pytest.raises(MalformedResponse):
        transformers.session_created({"id": "cs_1", "amount_total": 1, "currency": "usd"})


def test_refund_answers():
    assert transformers.refund_result(refund("r", "succeeded", 1)).outcome is (
        OperationOutcome.SUCCEEDED
    )
    assert transformers.refund_result(refund("r", "pending", 1)).outcome is (
        OperationOutcome.PENDING
    )
    failed = transformers.refund_result({**refund("r", "failed", 1), "failure_reason": "lost"})
    assert failed.outcome is OperationOutcome.DECLINED
    assert failed.decline is not None
    assert failed.decline.code == "lost"
