"""The MoMo connector's edges, with MoMo's answers scripted (httpx.MockTransport): config,
capabilities, answers that are ambiguous, unreadable or not MoMo's, and the IPN checks."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from payrelay.connectors.base import (
    Account,
    ConfigInvalid,
    CreatePayment,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationOutcome,
    OperationRequest,
    PaymentOutcome,
    StatusQuery,
    WebhookRejected,
)
from payrelay.connectors.momo import MomoConnector, signatures, transformers
from payrelay.enums import CaptureMethod
from tests.connectors.momo.helpers import ACCESS, CREDENTIALS, PARTNER, SECRET

ORDER = "20261122-u_1-ABCDEF1234"


def test_config_gets_its_defaults_and_refuses_what_is_wrong():
    assert MomoConnector.prepare_config(CREDENTIALS) == {
        **CREDENTIALS,
        "request_type": "captureWallet",
        "lang": "vi",
    }
    for wrong in (
        {},
        {**CREDENTIALS, "secret_key": ""},
        {**CREDENTIALS, "access_key": 123},
        {**CREDENTIALS, "request_type": "payWithATM"},
        {**CREDENTIALS, "lang": "fr"},
        {**CREDENTIALS, "webhook_secret": "x"},
        {**CREDENTIALS, "partner_code": " MOMO"},
    ):
        with pytest.raises(ConfigInvalid):
            MomoConnector.prepare_config(wrong)


def test_capabilities_follow_the_request_type():
    wallet = MomoConnector.capabilities_for(CREDENTIALS)
    assert wallet.currencies == frozenset({"VND"})
    assert wallet.min_amount == {"VND": Decimal(1000)}
    assert wallet.max_amount == {"VND": Decimal(50_000_000)}
    assert not wallet.partial_capture
    assert wallet.partial_refund
    assert wallet.multiple_refunds
    assert not wallet.cancel_unpaid
    assert wallet.default_payment_method == "momo_wallet"
    method = MomoConnector.capabilities_for({**CREDENTIALS, "request_type": "payWithMethod"})
    assert method.default_payment_method == "momo"


@pytest.mark.parametrize(
    ("reference", "order_id"),
    [
        ("20261122-0-ABCDEF1234", "20261122-0-ABCDEF1234"),
        ("20261122-user:42-ABCDEF1234", "20261122-user-42-ABCDEF1234"),
        ("20261122-a.b_c-XYZ", "20261122-a.b_c-XYZ"),
    ],
)
def test_order_ids_keep_to_momos_alphabet(reference, order_id):
    assert transformers.order_id_for(reference) == order_id
    assert transformers.ORDER_ID.match(order_id)


def test_free_text_loses_what_breaks_redirect_signatures():
    assert transformers.plain_text("Áo dài & nón lá = 2 #sale\n", 255) == "Áo dài nón lá 2 sale"
    assert transformers.plain_text("x" * 300, 255) == "x" * 255
    assert transformers.plain_text(None, 255) == ""


def test_amounts_are_whole_vnd():
    assert transformers.vnd(Decimal("150000")) == 150000
    assert transformers.vnd(Decimal("150000.00")) == 150000
    with pytest.raises(ValueError, match="whole VND"):
        transformers.vnd(Decimal("1.5"))


def _connector(handler) -> MomoConnector:
    account = Account(
        id=7,
        config=MomoConnector.prepare_config(CREDENTIALS),
        base_url="https://momo.test",
        public_url="https://payrelay.test",
        webhook_url="https://payrelay.test/webhooks/momo/7",
    )
    return MomoConnector(account, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def _create(**overrides) -> CreatePayment:
    values = {
        "payment_id": uuid.uuid4(),
        "operation_id": uuid.uuid4(),
        "idempotency_key": f"payrelay-{uuid.uuid4()}",
        "amount": Decimal(50000),
        "currency": "VND",
        "capture_method": CaptureMethod.AUTOMATIC,
        "order_reference": ORDER,
        "order_id": "order-1",
        "description": "Thanh toán",
        "customer_email": None,
        "return_url": None,
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }
    values.update(overrides)
    return CreatePayment(**values)


def _operation(amount: str | None = "50000") -> OperationRequest:
    return OperationRequest(
        operation_id=uuid.uuid4(),
        idempotency_key=f"payrelay-{uuid.uuid4()}",
        gateway_transaction_id=ORDER,
        amount=None if amount is None else Decimal(amount),
        currency="VND",
    )


def _answer(status: int, body: dict | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content)


async def test_create_is_signed_utf8_json_on_the_default_test_host():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(400, {"resultCode": 20, "message": "Bad format request."})

    connector = _connector(handler)
    connector.account = dataclasses.replace(connector.account, base_url=None)
    result = await connector.create_payment(_create())

    [request] = seen
    assert str(request.url) == "https://test-payment.momo.vn/v2/gateway/api/create"
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert "Thanh toán".encode() in request.content
    body = json.loads(request.content)
    assert signatures.is_valid(SECRET, ACCESS, signatures.CREATE, body)
    assert result.outcome is PaymentOutcome.DECLINED
    assert result.decline is not None
    assert result.decline.code == "bad_request"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"resultCode": 7000, "message": "in flight"}),
        (200, {"resultCode": 40}),
        (200, b"<html>"),
        (200, {"message": "no result code"}),
        (200, {"resultCode": 0, "orderId": ORDER}),  # accepted without a payUrl
        (503, {"resultCode": 10}),
    ],
)
async def test_create_answers_that_leave_the_outcome_unknown(status, body):
    connector = _connector(lambda request: _answer(status, body))
    with pytest.raises(GatewayOutcomeUnknown):
        await connector.create_payment(_create())


async def test_a_4xx_that_is_not_momos_declines_the_create():
    connector = _connector(lambda request: _answer(404, b"Not Found"))
    result = await connector.create_payment(_create())
    assert result.outcome is PaymentOutcome.DECLINED
    assert result.gateway_status == "HTTP_404"


async def test_a_currency_other_than_vnd_is_refused_before_sending():
    connector = _connector(lambda request: pytest.fail("nothing may be sent"))
    result = await connector.create_payment(_create(currency="USD", amount=Decimal("10.00")))
    assert result.outcome is PaymentOutcome.DECLINED
    assert result.decline is not None
    assert result.decline.code == "unsupported_currency"


def _query_answer(code: int, refunds: list | None = None) -> dict:
    return {
        "partnerCode": PARTNER,
        "requestId": "q",
        "orderId": ORDER,
        "extraData": "",
        "amount": 50000,
        "transId": 4088878654 if code in (0, 9000, 1017) else 0,
        "payType": "qr",
        "resultCode": code,
        "refundTrans": refunds or [],
        "message": "",
        "responseTime": 1,
    }


def _scripted(*answers):
    """A handler answering each call in turn; records what was asked."""
    queue = list(answers)
    calls: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path.rsplit("/", 1)[-1], json.loads(request.content)))
        return queue.pop(0)

    return handler, calls


@pytest.mark.parametrize(
    ("state", "request_type", "outcome"),
    [
        (0, "capture", OperationOutcome.SUCCEEDED),
        (9000, "capture", OperationOutcome.DECLINED),
        (1017, "cancel", OperationOutcome.SUCCEEDED),
        (9000, "cancel", OperationOutcome.DECLINED),
    ],
)
async def test_a_confirm_answered_before_is_settled_by_the_order_state(
    state, request_type, outcome
):
    handler, calls = _scripted(_answer(400, {"resultCode": 40}), _answer(200, _query_answer(state)))
    connector = _connector(handler)
    call = connector.capture if request_type == "capture" else connector.void
    result = await call(_operation())
    assert result.outcome is outcome
    assert [name for name, _ in calls] == ["confirm", "query"]
    assert calls[0][1]["requestType"] == request_type
    assert signatures.is_valid(SECRET, ACCESS, signatures.CONFIRM, calls[0][1])
    assert signatures.is_valid(SECRET, ACCESS, signatures.QUERY, calls[1][1])


async def test_a_confirm_in_flight_is_unknown():
    connector = _connector(lambda request: _answer(422, {"resultCode": 7000}))
    with pytest.raises(GatewayOutcomeUnknown):
        await connector.capture(_operation())


async def test_a_resumed_refund_that_momo_already_made_is_not_sent_again():
    operation = _operation("20000")
    done = {"orderId": operation.idempotency_key, "amount": 20000, "resultCode": 0, "transId": 9}
    handler, calls = _scripted(_answer(200, _query_answer(0, [done])))
    result = await _connector(handler).refund(operation)
    assert result.outcome is OperationOutcome.SUCCEEDED
    assert result.gateway_operation_id == "9"
    assert [name for name, _ in calls] == ["query"]


async def test_a_refund_names_the_purchase_trans_id_and_its_own_order_id():
    operation = _operation("20000")
    handler, calls = _scripted(
        _answer(200, _query_answer(0)),
        _answer(200, {"resultCode": 0, "transId": 10, "orderId": operation.idempotency_key}),
    )
    result = await _connector(handler).refund(operation)
    assert result.outcome is OperationOutcome.SUCCEEDED
    refund = calls[1][1]
    assert refund["transId"] == 4088878654
    assert refund["orderId"] == refund["requestId"] == operation.idempotency_key
    assert signatures.is_valid(SECRET, ACCESS, signatures.REFUND, refund)


async def test_a_refund_of_an_unpaid_order_is_declined_without_sending():
    handler, calls = _scripted(_answer(200, _query_answer(1000)))
    result = await _connector(handler).refund(_operation("20000"))
    assert result.outcome is OperationOutcome.DECLINED
    assert [name for name, _ in calls] == ["query"]


async def test_a_refund_whose_query_fails_was_not_sent():
    handler, calls = _scripted(_answer(500, b""))
    with pytest.raises(GatewayNotSent):
        await _connector(handler).refund(_operation("20000"))
    assert [name for name, _ in calls] == ["query"]


async def test_a_failed_status_query_is_unknown_for_the_janitor():
    connector = _connector(lambda request: _answer(400, {"resultCode": 13}))
    with pytest.raises(GatewayOutcomeUnknown):
        await connector.query_status(StatusQuery(uuid.uuid4(), ORDER, None))


def _ipn(**changes) -> dict:
    body = {
        "partnerCode": PARTNER,
        "orderId": ORDER,
        "requestId": "payrelay-1",
        "amount": 50000,
        "orderInfo": "Thanh toán đơn hàng",
        "orderType": "momo_wallet",
        "transId": 4088878654,
        "resultCode": 0,
        "message": "Thành công.",
        "payType": "qr",
        "responseTime": 1721720663942,
        "extraData": transformers.extra_data(uuid.uuid4(), CaptureMethod.MANUAL),
    }
    return signatures.signed(SECRET, ACCESS, signatures.IPN, {**body, **changes})


def _webhook(body: dict | bytes) -> IncomingWebhook:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return IncomingWebhook(headers={}, body=raw, received_at=datetime.now(UTC))


async def test_a_genuine_ipn_with_vietnamese_text_is_verified_and_parsed():
    connector = _connector(lambda request: pytest.fail("no call"))
    webhook = _webhook(_ipn(resultCode=9000))
    await connector.verify_webhook(webhook)
    [event] = connector.parse_webhook(webhook)
    assert event.outcome is PaymentOutcome.AUTHORIZED
    assert connector.acknowledge([event]).status_code == 204
    assert connector.acknowledge([event]).body == b""


@pytest.mark.parametrize(
    "body",
    [
        {**_ipn(), "amount": 1000},
        {**_ipn(), "message": "Thanh toan"},  # the same text without its diacritics
        _ipn(partnerCode="OTHER"),
        {key: value for key, value in _ipn().items() if key != "payType"},
        {**_ipn(), "signature": 12},
        {**_ipn(), "transId": 4088878654.5},
        b"not json",
        b"[1]",
    ],
)
async def test_ipns_that_are_not_genuine_are_rejected(body):
    connector = _connector(lambda request: pytest.fail("no call"))
    with pytest.raises(WebhookRejected):
        await connector.verify_webhook(_webhook(body))
    assert connector.reject("x").status_code == 400


async def test_an_ipn_time_no_calendar_holds_is_malformed():
    connector = _connector(lambda request: pytest.fail("no call"))
    webhook = _webhook(_ipn(responseTime=10**30))
    await connector.verify_webhook(webhook)  # genuinely signed, still unreadable
    with pytest.raises(WebhookRejected):
        connector.parse_webhook(webhook)
