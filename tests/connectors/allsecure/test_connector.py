"""The connector's HTTP edges with a mock transport: what it sends (headers, signature, Basic
auth), and how it sorts what comes back into results, not-sent and unknown."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from payrelay.connectors.allsecure import AllSecureConnector, transformers
from payrelay.connectors.base import (
    Account,
    CreatePayment,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    OperationOutcome,
    OperationRequest,
    PaymentOutcome,
    StatusQuery,
)
from payrelay.enums import CaptureMethod
from tests.connectors.allsecure.helpers import (
    API_KEY,
    CONFIG,
    PASSWORD,
    SECRET,
    USERNAME,
    x_signature,
)

Handler = list[tuple[int, object]]


def connector(
    answers: Handler, seen: list[httpx.Request], base_url: str | None = None
) -> AllSecureConnector:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answers.pop(0)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content)

    account = Account(
        id=7,
        config=CONFIG,
        base_url=base_url,
        public_url="https://payrelay.example",
        webhook_url="https://payrelay.example/webhooks/allsecure/7",
    )
    return AllSecureConnector(account, httpx.AsyncClient(transport=httpx.MockTransport(handle)))


def create(currency: str = "RSD") -> CreatePayment:
    return CreatePayment(
        payment_id=uuid.uuid4(),
        operation_id=uuid.uuid4(),
        idempotency_key=f"payrelay-{uuid.uuid4()}",
        amount=Decimal("1250.50"),
        currency=currency,
        capture_method=CaptureMethod.MANUAL,
        order_reference="20260102-u1-ABC",
        order_id="order-1",
        description=None,
        customer_email="kupac@example.rs",
        return_url=None,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def operation(**overrides) -> OperationRequest:
    values = {
        "operation_id": uuid.uuid4(),
        "idempotency_key": f"payrelay-{uuid.uuid4()}",
        "gateway_transaction_id": "preauth-uuid",
        "amount": Decimal("10.00"),
        "currency": "EUR",
        **overrides,
    }
    return OperationRequest(**values)


REDIRECT = {
    "success": True,
    "uuid": "u1",
    "purchaseId": "p-u1",
    "returnType": "REDIRECT",
    "redirectUrl": "https://asxgw.paymentsandbox.cloud/redirect/u1/T",
}


async def test_a_request_is_signed_dated_and_authenticated():
    seen: list[httpx.Request] = []
    request = create()
    result = await connector([(200, REDIRECT)], seen).create_payment(request)

    assert result.outcome is PaymentOutcome.PENDING
    [sent] = seen
    assert (
        str(sent.url)
        == f"https://asxgw.paymentsandbox.cloud/api/v3/transaction/{API_KEY}/preauthorize"
    )
    headers = sent.headers
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["date"] == headers["x-date"]
    assert headers["date"].endswith(" UTC")
    assert headers["x-signature"] == x_signature(
        SECRET, "POST", sent.content, headers["date"], sent.url.raw_path.decode()
    )
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert headers["authorization"] == f"Basic {token}"
    body = json.loads(sent.content)
    assert body["merchantTransactionId"] == request.idempotency_key
    assert body["description"] == "Order order-1"
    assert body["customer"] == {"email": "kupac@example.rs"}
    assert body["successUrl"] == f"https://payrelay.example/return/allsecure/7/{request.payment_id}"


async def test_a_base_url_with_a_path_is_signed_with_that_path():
    seen: list[httpx.Request] = []
    await connector([(200, REDIRECT)], seen, "https://proxy.example/allsecure/").create_payment(
        create()
    )
    [sent] = seen
    assert sent.url.raw_path.decode().startswith("/allsecure/api/v3/transaction/")
    assert sent.headers["x-signature"] == x_signature(
        SECRET, "POST", sent.content, sent.headers["date"], sent.url.raw_path.decode()
    )


async def test_unsupported_currencies_are_refused_without_a_call():
    seen: list[httpx.Request] = []
    result = await connector([], seen).create_payment(create("USD"))
    assert (result.outcome, result.decline and result.decline.code) == (
        PaymentOutcome.DECLINED,
        "unsupported_currency",
    )
    assert seen == []


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (
            429,
            {"success": False, "errorCode": 1009, "errorMessage": "Too many requests"},
            GatewayNotSent,
        ),
        (
            500,
            {"success": False, "errorCode": 1008, "errorMessage": "System Error occurred"},
            GatewayOutcomeUnknown,
        ),
        (
            503,
            {"success": False, "errorCode": 1010, "errorMessage": "Maintenance"},
            GatewayOutcomeUnknown,
        ),
        (200, b"<html>", GatewayOutcomeUnknown),
        (200, {"success": True, "returnType": "FINISHED"}, GatewayOutcomeUnknown),  # no uuid
    ],
)
async def test_what_is_not_an_answer(status, body, raised):
    with pytest.raises(raised):
        await connector([(status, body)], []).create_payment(create())


async def test_a_refusal_before_any_transaction_fails_the_create():
    proxy = await connector([(404, b"<html>not found</html>")], []).create_payment(create())
    assert (proxy.outcome, proxy.decline and proxy.decline.gateway_code) == (
        PaymentOutcome.DECLINED,
        "1000",
    )
    answer = {"success": False, "errorCode": 1004, "errorMessage": "Invalid signature"}
    refused = await connector([(401, answer)], []).create_payment(create())
    assert refused.decline is not None
    assert (refused.decline.code, refused.decline.gateway_message) == (
        "invalid_signature",
        "Invalid signature",
    )


async def test_a_duplicate_create_reads_the_transaction_already_there():
    duplicate = {
        "success": False,
        "errorCode": 3004,
        "errorMessage": "The transaction ID 'x' already exists!",
    }
    found = {
        "success": True,
        "transactionStatus": "SUCCESS",
        "transactionType": "PREAUTHORIZE",
        "uuid": "u1",
        "amount": "1250.50",
    }
    seen: list[httpx.Request] = []
    result = await connector([(400, duplicate), (200, found)], seen).create_payment(create())
    assert (result.outcome, result.gateway_transaction_id) == (PaymentOutcome.AUTHORIZED, "u1")
    assert seen[1].method == "GET"
    assert "/getByMerchantTransactionId/payrelay-" in str(seen[1].url)


def found(kind: str, state: str, uuid_: str = "x") -> dict:
    return {
        "success": True,
        "transactionStatus": state,
        "transactionType": kind,
        "uuid": uuid_,
        "amount": "10.00",
    }


NOT_FOUND = {"success": False, "errorMessage": "Transaction not found", "errorCode": 8001}


async def test_the_status_query_looks_up_each_operation_it_is_asked_about():
    capture, refund, lost = "payrelay-capture", "payrelay-refund", "payrelay-lost"
    answers: Handler = [
        (200, found("PREAUTHORIZE", "SUCCESS", "preauth-uuid")),
        (200, found("CAPTURE", "SUCCESS")),
        (200, found("REFUND", "ERROR")),
        (200, NOT_FOUND),
    ]
    query = StatusQuery(uuid.uuid4(), "ref", "preauth-uuid", (capture, refund, lost))
    result = await connector(answers, []).query_status(query)
    assert result.outcome is PaymentOutcome.AUTHORIZED
    assert result.operations == {
        capture: OperationOutcome.SUCCEEDED,
        refund: OperationOutcome.DECLINED,
        lost: OperationOutcome.DECLINED,  # never arrived: never happened
    }


async def test_the_status_query_without_a_uuid_finds_the_payment_by_its_create_key():
    key = "payrelay-create"
    payment = await connector([(200, found("DEBIT", "REDIRECT", "u1"))], []).query_status(
        StatusQuery(uuid.uuid4(), "ref", None, (key,))
    )
    assert (payment.outcome, payment.gateway_transaction_id, payment.found) == (
        PaymentOutcome.PENDING,
        "u1",
        True,
    )
    missing = await connector([(200, NOT_FOUND)], []).query_status(
        StatusQuery(uuid.uuid4(), "ref", None, (key,))
    )
    assert (missing.found, missing.outcome) == (False, PaymentOutcome.DECLINED)
    with pytest.raises(GatewayOutcomeUnknown):  # nothing to ask about
        await connector([], []).query_status(StatusQuery(uuid.uuid4(), "ref", None))


async def test_an_operation_still_in_flight_is_asked_about_again_later():
    answers: Handler = [(200, found("DEBIT", "SUCCESS")), (200, found("REFUND", "PENDING"))]
    with pytest.raises(GatewayOutcomeUnknown, match="in flight"):
        await connector(answers, []).query_status(
            StatusQuery(uuid.uuid4(), "ref", "x", ("payrelay-r",))
        )


async def test_a_refund_after_a_separate_capture_names_the_capture():
    seen: list[httpx.Request] = []
    answers: Handler = [
        (200, found("CAPTURE", "SUCCESS", "capture-uuid")),
        (200, {"success": True, "uuid": "r1", "returnType": "FINISHED"}),
    ]
    result = await connector(answers, seen).refund(operation(capture_key="payrelay-capture"))
    assert (result.outcome, result.gateway_operation_id) == (OperationOutcome.SUCCEEDED, "r1")
    sent = json.loads(seen[1].content)
    assert sent["referenceUuid"] == "capture-uuid"
    assert sent["callbackUrl"] == "https://payrelay.example/webhooks/allsecure/7"
    assert (sent["amount"], sent["currency"]) == ("10.00", "EUR")


async def test_a_refund_whose_capture_cannot_be_read_is_not_sent():
    with pytest.raises(GatewayNotSent):
        await connector([(500, b"")], []).refund(operation(capture_key="payrelay-capture"))
    refused = await connector([(200, NOT_FOUND)], []).refund(
        operation(capture_key="payrelay-capture")
    )
    assert refused.outcome is OperationOutcome.DECLINED


async def test_a_follow_up_sent_twice_is_read_not_redone():
    duplicate = {"success": False, "errorCode": 3004, "errorMessage": "exists"}
    seen: list[httpx.Request] = []
    answers: Handler = [(400, duplicate), (200, found("VOID", "SUCCESS", "v1"))]
    request = operation()
    result = await connector(answers, seen).void(request)
    assert (result.outcome, result.gateway_operation_id) == (OperationOutcome.SUCCEEDED, "v1")
    assert str(seen[1].url).endswith(
        f"/getByMerchantTransactionId/{transformers.transaction_id(request.idempotency_key)}"
    )


def test_capabilities_and_config():
    capabilities = AllSecureConnector.capabilities
    assert capabilities.currencies == frozenset({"RSD", "EUR"})
    assert capabilities.reports_operations
    assert not capabilities.cancel_unpaid
    assert capabilities.max_amount["RSD"] == Decimal("9999999999.99")
    assert AllSecureConnector.prepare_config(CONFIG) == CONFIG
