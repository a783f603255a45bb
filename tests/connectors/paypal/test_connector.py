"""The PayPal connector on its own, against the emulator in process: completion, operations,
status queries, tokens, and how PayPal's answers map to results."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from payrelay.connectors.base import (
    Account,
    CompletePayment,
    ConfigInvalid,
    CreatePayment,
    GatewayNotSent,
    OperationOutcome,
    OperationRequest,
    PaymentOutcome,
    StatusQuery,
)
from payrelay.connectors.paypal import auth, states
from payrelay.connectors.paypal.connector import NotCompletedYet, PaypalConnector
from payrelay.connectors.paypal.emulator import create_app
from payrelay.connectors.paypal.emulator_state import CLIENT_ID, CLIENT_SECRET
from payrelay.connectors.paypal.transformers import PaypalConfig, value_of
from payrelay.enums import CaptureMethod

BASE = "http://paypal.test"


class Paypal:
    def __init__(self, options: dict[str, str] | None = None) -> None:
        self.app = create_app(options or {})
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), timeout=5)

    @property
    def state(self) -> Any:
        return self.app.state.emulator.state

    def connector(self, **config: Any) -> PaypalConnector:
        account = Account(
            id=7,
            config={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **config},
            base_url=BASE,
            public_url="https://payrelay.example",
            webhook_url="https://payrelay.example/webhooks/paypal/7",
        )
        return PaypalConnector(account, self.http)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [c for c in self.state.calls if c["operation"] == operation]


@pytest.fixture
async def paypal() -> AsyncIterator[Paypal]:
    auth.clear()
    running = Paypal()
    yield running
    await running.http.aclose()
    auth.clear()


def create_request(
    method: CaptureMethod = CaptureMethod.AUTOMATIC, **changes: Any
) -> CreatePayment:
    values: dict[str, Any] = {
        "payment_id": uuid.uuid4(),
        "operation_id": uuid.uuid4(),
        "idempotency_key": f"payrelay-{uuid.uuid4()}",
        "amount": Decimal("100.00"),
        "currency": "USD",
        "capture_method": method,
        "order_reference": "20261122-0-ABCDEFGHIJ",
        "order_id": "order-1",
        "description": "Two\nbooks",
        "customer_email": "buyer@example.com",
        "return_url": None,
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }
    return CreatePayment(**{**values, **changes})


def completion(order_id: str, method: CaptureMethod = CaptureMethod.AUTOMATIC) -> CompletePayment:
    return CompletePayment(
        payment_id=uuid.uuid4(),
        operation_id=uuid.uuid4(),
        idempotency_key=f"payrelay-{uuid.uuid4()}",
        gateway_transaction_id=order_id,
        amount=Decimal("100.00"),
        currency="USD",
        capture_method=method,
    )


def operation(order_id: str, amount: str | None = None, key: str | None = None) -> OperationRequest:
    return OperationRequest(
        operation_id=uuid.uuid4(),
        idempotency_key=key or f"payrelay-{uuid.uuid4()}",
        gateway_transaction_id=order_id,
        amount=None if amount is None else Decimal(amount),
        currency="USD",
    )


async def approved_order(paypal: Paypal, method: CaptureMethod = CaptureMethod.AUTOMATIC) -> str:
    created = await paypal.connector().create_payment(create_request(method))
    order_id = created.gateway_transaction_id
    assert order_id is not None
    paypal.state.approve(paypal.state.orders[order_id], "balance")
    return order_id


async def test_create_sends_an_order_with_our_return_url(paypal):
    request = create_request()
    connector = paypal.connector()

    result = await connector.create_payment(request)

    assert result.outcome is PaymentOutcome.PENDING
    assert result.next_action is not None
    assert (
        result.next_action.data["url"]
        == f"{BASE}/checkoutnow?token={result.gateway_transaction_id}"
    )
    [call] = paypal.calls("create")
    assert call["request_id"] == request.idempotency_key
    unit = call["request"]["purchase_units"][0]
    assert unit["description"] == "Two books"
    context = call["request"]["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == connector.return_url(request.payment_id)
    assert call["request"]["payment_source"]["paypal"]["email_address"] == "buyer@example.com"
    again = await connector.create_payment(request)  # a retry: PayPal replays the same order
    assert again.gateway_transaction_id == result.gateway_transaction_id
    assert len(paypal.state.orders) == 1


async def test_a_payer_action_link_is_followed_too():
    auth.clear()
    paypal = Paypal({"create_status": "PAYER_ACTION_REQUIRED"})
    result = await paypal.connector().create_payment(create_request())
    assert result.gateway_status == "PAYER_ACTION_REQUIRED"
    assert result.next_action is not None
    assert "/checkoutnow?token=" in result.next_action.data["url"]
    await paypal.http.aclose()


async def test_refusals_at_create_are_declines(paypal):
    connector = paypal.connector()
    rsd = await connector.create_payment(create_request(currency="RSD", amount=Decimal(1000)))
    assert rsd.outcome is PaymentOutcome.DECLINED
    assert rsd.decline is not None
    assert rsd.decline.code == "unsupported_currency"
    huf = await connector.create_payment(create_request(currency="HUF", amount=Decimal("10.50")))
    assert huf.decline is not None
    assert huf.decline.code == "invalid_amount"
    assert paypal.calls("create") == []
    bad = paypal.connector(client_secret="wrong")
    auth.clear()
    refused = await bad.create_payment(create_request())
    assert refused.decline is not None
    assert refused.decline.code == "gateway_authentication_failed"


async def test_complete_captures_or_authorizes_the_approved_order(paypal):
    connector = paypal.connector()
    sale = await approved_order(paypal)
    captured = await connector.complete_payment(completion(sale))
    assert captured.outcome is PaymentOutcome.CAPTURED
    assert captured.captured_amount == Decimal("100.00")
    assert captured.gateway_reference_id == paypal.state.orders[sale].captures[0]

    held = await approved_order(paypal, CaptureMethod.MANUAL)
    authorized = await connector.complete_payment(completion(held, CaptureMethod.MANUAL))
    assert authorized.outcome is PaymentOutcome.AUTHORIZED
    assert authorized.amount == Decimal("100.00")

    # Completed before (another trigger, a lost answer): the order's state answers.
    again = await connector.complete_payment(completion(sale))
    assert again.outcome is PaymentOutcome.CAPTURED
    assert len(paypal.state.captures) == 1


async def test_complete_before_approval_is_not_done_and_may_be_sent_again(paypal):
    connector = paypal.connector()
    created = await connector.create_payment(create_request())
    order_id = created.gateway_transaction_id
    request = completion(order_id)
    with pytest.raises(NotCompletedYet):
        await connector.complete_payment(request)
    assert issubclass(NotCompletedYet, GatewayNotSent)
    paypal.state.approve(paypal.state.orders[order_id], "balance")
    done = await connector.complete_payment(request)  # the same key, now accepted
    assert done.outcome is PaymentOutcome.CAPTURED


async def test_complete_declined_and_expired(paypal):
    connector = paypal.connector()
    created = await connector.create_payment(create_request())
    order = paypal.state.orders[created.gateway_transaction_id]
    paypal.state.approve(order, "declined")
    declined = await connector.complete_payment(completion(order.id))
    assert declined.outcome is PaymentOutcome.DECLINED
    assert declined.decline is not None
    assert declined.decline.code == "instrument_declined"

    late = await connector.create_payment(create_request())
    paypal.state.approve(paypal.state.orders[late.gateway_transaction_id], "balance")
    paypal.state.clock.offset += 4 * 3600
    expired = await connector.complete_payment(completion(late.gateway_transaction_id))
    assert expired.outcome is PaymentOutcome.EXPIRED


async def test_capture_refund_and_status_list_our_operations(paypal):
    connector = paypal.connector()
    order_id = await approved_order(paypal, CaptureMethod.MANUAL)
    await connector.complete_payment(completion(order_id, CaptureMethod.MANUAL))
    capture = operation(order_id, "80.00")

    captured = await connector.capture(capture)
    again = await connector.capture(capture)  # resumed: found on the order, not sent twice

    assert captured.outcome is OperationOutcome.SUCCEEDED
    assert again.gateway_operation_id == captured.gateway_operation_id
    assert len(paypal.calls("capture")) == 1
    refund = operation(order_id, "30.00")
    refunded = await connector.refund(refund)
    assert refunded.outcome is OperationOutcome.SUCCEEDED
    too_much = await connector.refund(operation(order_id, "60.00"))
    assert too_much.outcome is OperationOutcome.DECLINED
    assert too_much.decline is not None
    assert too_much.decline.code == "refund_amount_exceeded"

    status = await connector.query_status(
        StatusQuery(payment_id=uuid.uuid4(), order_reference="x", gateway_transaction_id=order_id)
    )
    assert status.outcome is PaymentOutcome.CAPTURED
    assert (status.captured_amount, status.refunded_amount) == (Decimal("80.00"), Decimal("30.00"))
    assert status.operations == {
        capture.idempotency_key: OperationOutcome.SUCCEEDED,
        refund.idempotency_key: OperationOutcome.SUCCEEDED,
    }


async def test_void_twice_and_void_after_capture(paypal):
    connector = paypal.connector()
    order_id = await approved_order(paypal, CaptureMethod.MANUAL)
    await connector.complete_payment(completion(order_id, CaptureMethod.MANUAL))
    first = await connector.void(operation(order_id))
    second = await connector.void(operation(order_id))
    assert first.outcome is second.outcome is OperationOutcome.SUCCEEDED
    assert len(paypal.calls("void")) == 1
    refused = await connector.capture(operation(order_id))
    assert refused.decline is not None
    assert refused.decline.code == "authorization_voided"


async def test_status_of_unknown_orders(paypal):
    connector = paypal.connector()
    missing = await connector.query_status(
        StatusQuery(payment_id=uuid.uuid4(), order_reference="x", gateway_transaction_id="NOPE")
    )
    assert missing.found is False
    never = await connector.query_status(
        StatusQuery(payment_id=uuid.uuid4(), order_reference="x", gateway_transaction_id=None)
    )
    assert never.found is False
    approved = await approved_order(paypal)
    status = await connector.query_status(
        StatusQuery(payment_id=uuid.uuid4(), order_reference="x", gateway_transaction_id=approved)
    )
    assert status.outcome is PaymentOutcome.APPROVED


async def test_the_token_is_cached_and_renewed_on_401(paypal):
    connector = paypal.connector()
    await asyncio.gather(*(connector.create_payment(create_request()) for _ in range(5)))
    assert len(paypal.calls("token")) == 1  # one fetch for concurrent callers
    paypal.state.revoke_tokens()
    await connector.create_payment(create_request())
    assert len(paypal.calls("token")) == 2
    assert [c["status"] for c in paypal.calls("create")][-2:] == [401, 201]


async def test_tokens_expire_with_the_emulators_clock():
    assert auth.renew_after(32400) == 32400 - 300
    assert auth.renew_after(60) == 54
    auth.clear()
    fetched: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token-{len(fetched)}", 100

    now = [0.0]
    key = ("http://x", "client")
    assert await auth.token(key, fetch, clock=lambda: now[0]) == "token-1"
    now[0] = 89.0
    assert await auth.token(key, fetch, clock=lambda: now[0]) == "token-1"
    now[0] = 91.0
    assert await auth.token(key, fetch, clock=lambda: now[0]) == "token-2"
    auth.invalidate(key, "token-1")  # an older token refused: the newer one stays
    assert await auth.token(key, fetch, clock=lambda: now[0]) == "token-2"
    auth.clear()


def test_config():
    config = PaypalConfig.of({"client_id": "a", "client_secret": "b"})
    assert config.as_dict() == {
        "client_id": "a",
        "client_secret": "b",
        "webhook_verification": "api",
    }
    for bad in (
        {"client_id": "a"},
        {"client_id": "a", "client_secret": "b", "webhook_id": "has space"},
        {"client_id": "a", "client_secret": "b", "webhook_verification": "trust"},
        {"client_id": "a", "client_secret": "b", "other": "x"},
    ):
        with pytest.raises(ConfigInvalid):
            PaypalConfig.of(bad)


def test_amounts():
    assert value_of(Decimal("10"), "USD") == "10.00"
    assert value_of(Decimal("1500"), "JPY") == "1500"
    for amount, currency in ((Decimal("10.5"), "HUF"), (Decimal("1.001"), "USD")):
        with pytest.raises(ValueError, match="decimals"):
            value_of(amount, currency)
    assert "RSD" not in PaypalConnector.capabilities.currencies  # type: ignore[operator]
    assert PaypalConnector.capabilities.needs_completion


def test_order_states():
    def order(status: str, **payments: Any) -> dict[str, Any]:
        unit = {"amount": {"currency_code": "USD", "value": "10.00"}, "payments": payments}
        return {"id": "O1", "status": status, "purchase_units": [unit]}

    def item(status: str, value: str = "10.00", **extra: Any) -> dict[str, Any]:
        return {"id": "X", "status": status, "amount": {"currency_code": "USD", "value": value},
                **extra}  # fmt: skip

    assert states.order_result(order("CREATED")).outcome is PaymentOutcome.PENDING
    assert states.order_result(order("APPROVED")).outcome is PaymentOutcome.APPROVED
    assert states.order_result(order("VOIDED")).outcome is PaymentOutcome.CANCELLED
    pending = order("COMPLETED", captures=[item("PENDING")])
    assert states.order_result(pending).outcome is PaymentOutcome.PENDING
    denied = order("COMPLETED", authorizations=[item("DENIED")])
    assert states.order_result(denied).outcome is PaymentOutcome.DECLINED
    declined = order("COMPLETED", captures=[item("DECLINED")])
    assert states.order_result(declined).outcome is PaymentOutcome.DECLINED
    voided = order("COMPLETED", authorizations=[item("VOIDED")])
    assert states.order_result(voided).outcome is PaymentOutcome.VOIDED
    refunded = order(
        "COMPLETED",
        captures=[item("PARTIALLY_REFUNDED", invoice_id="k1")],
        refunds=[
            item("COMPLETED", "4.00", invoice_id="k2"),
            item("FAILED", "1.00", invoice_id="k3"),
        ],
    )
    result = states.order_result(refunded)
    assert (result.outcome, result.refunded_amount) == (PaymentOutcome.CAPTURED, Decimal("4.00"))
    assert result.operations == {
        "k1": OperationOutcome.SUCCEEDED,
        "k2": OperationOutcome.SUCCEEDED,
        "k3": OperationOutcome.DECLINED,
    }
