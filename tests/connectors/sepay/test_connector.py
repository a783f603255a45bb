"""The SePay connector without the core: its configuration, the transfer instructions a create
returns without calling SePay, and status queries against the emulator's transactions API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from payrelay import connectors
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
)
from payrelay.connectors.sepay import SepayConnector
from payrelay.connectors.sepay.transformers import payment_code
from payrelay.enums import CaptureMethod
from payrelay.kit.ids import new_id
from tests.connectors.sepay.helpers import ACCOUNT_CONFIG, API_TOKEN, EMULATOR_OPTIONS
from tests.emulators import RunningEmulator


def connector(
    http: httpx.AsyncClient, base_url: str | None = None, **config: str
) -> SepayConnector:
    prepared = SepayConnector.prepare_config({**ACCOUNT_CONFIG, **config})
    account = Account(
        id=7,
        config=prepared,
        base_url=base_url,
        public_url="https://payrelay.example",
        webhook_url="https://payrelay.example/webhooks/sepay/7",
    )
    built = connectors.build_connector("sepay", account, http)
    assert isinstance(built, SepayConnector)
    return built


def create_request(payment_id: uuid.UUID, amount: str = "150000") -> CreatePayment:
    return CreatePayment(
        payment_id=payment_id,
        operation_id=new_id(),
        idempotency_key="payrelay-x",
        amount=Decimal(amount),
        currency="VND",
        capture_method=CaptureMethod.AUTOMATIC,
        order_reference="20261122-0-ABC",
        order_id="order-1",
        description=None,
        customer_email=None,
        return_url=None,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


@pytest.fixture
async def no_network() -> AsyncIterator[httpx.AsyncClient]:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"SePay was called: {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        yield client


@pytest.fixture
def emulator():
    with RunningEmulator("sepay", EMULATOR_OPTIONS) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


# --- configuration ------------------------------------------------------------------------


def test_the_registry_knows_sepay_and_its_capabilities():
    assert connectors.connector_class("sepay") is SepayConnector
    capabilities = SepayConnector.capabilities_for(ACCOUNT_CONFIG)
    assert not capabilities.manual_capture
    assert not capabilities.void
    assert not capabilities.refund
    assert not capabilities.partial_capture
    assert not capabilities.partial_refund
    assert not capabilities.multiple_refunds
    assert not capabilities.cancel_unpaid
    assert capabilities.status_query
    assert capabilities.currencies == frozenset({"VND"})
    assert capabilities.default_payment_method == "bank_transfer"


def test_a_config_is_normalized_with_defaults():
    prepared = SepayConnector.prepare_config(
        {
            "bank_account": " 0123499999 ",
            "bank_code": "MBBank",
            "account_name": "SHOP",
            "webhook_api_key": "k" * 16,
            "api_token": "t" * 32,
            "payment_code_prefix": "dh",
        }
    )
    assert prepared["bank_account"] == "0123499999"
    assert prepared["payment_code_prefix"] == "DH"
    assert prepared["webhook_auth"] == "apikey"
    without_prefix = SepayConnector.prepare_config({**ACCOUNT_CONFIG, "payment_code_prefix": None})
    assert without_prefix["payment_code_prefix"] == "PR"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "unknown sepay config keys: colour"),
        ({"bank_account": None}, "needs bank_account"),
        ({"api_token": ""}, "needs api_token"),
        ({"bank_account": "12 34"}, "bank_account"),
        ({"bank_code": "Viet com"}, "bank_code"),
        ({"account_name": "x" * 101}, "account_name"),
        ({"payment_code_prefix": "PAYRELAY"}, "2 to 5 letters"),
        ({"webhook_auth": "oauth"}, "apikey, hmac or none"),
        ({"webhook_api_key": "short"}, "needs webhook_api_key"),
        ({"webhook_auth": "hmac", "webhook_secret": None}, "needs webhook_secret"),
        ({"api_token": "with space inside"}, "api_token"),
        ({"bank_account": 123}, "must be a string"),
    ],
)
def test_a_bad_config_is_refused(change, message):
    with pytest.raises(ConfigInvalid, match=message):
        SepayConnector.prepare_config({**ACCOUNT_CONFIG, **change})


def test_no_auth_needs_no_key():
    prepared = SepayConnector.prepare_config(
        {**ACCOUNT_CONFIG, "webhook_auth": "none", "webhook_api_key": None}
    )
    assert prepared["webhook_auth"] == "none"


# --- create -------------------------------------------------------------------------------


async def test_create_calls_nothing_and_returns_the_transfer_instructions(no_network):
    payment_id = new_id()
    result = await connector(no_network).create_payment(create_request(payment_id))
    code = payment_code("PR", payment_id)
    assert result.outcome is PaymentOutcome.PENDING
    assert result.gateway_transaction_id == code
    assert result.next_action is not None
    action = result.next_action.as_dict()
    assert {key: value for key, value in action.items() if key != "qr_url"} == {
        "type": "bank_transfer",
        "bank_code": "Vietcombank",
        "account_number": "0123499999",
        "account_name": "CONG TY PAYRELAY",
        "amount": "150000",
        "currency": "VND",
        "transfer_content": code,
    }
    url = urlsplit(action["qr_url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "qr.sepay.vn", "/img")
    assert parse_qs(url.query) == {
        "acc": ["0123499999"],
        "bank": ["Vietcombank"],
        "amount": ["150000"],
        "des": [code],
    }


async def test_a_resumed_create_gives_the_same_code(no_network):
    payment_id = new_id()
    sepay = connector(no_network)
    first = await sepay.create_payment(create_request(payment_id))
    again = await sepay.create_payment(create_request(payment_id))
    assert first.gateway_transaction_id == again.gateway_transaction_id
    assert first.next_action == again.next_action


async def test_operations_money_cannot_take_are_declined_without_a_call(no_network):
    sepay = connector(no_network)
    request = OperationRequest(
        operation_id=new_id(),
        idempotency_key="k",
        gateway_transaction_id="PR1",
        amount=None,
        currency="VND",
    )
    for call in (sepay.capture, sepay.void, sepay.refund):
        result = await call(request)
        assert result.outcome is OperationOutcome.DECLINED
        assert result.decline is not None
        assert result.decline.code == "unsupported_by_gateway"


# --- status queries -----------------------------------------------------------------------


async def transfer(emulator: RunningEmulator, http: httpx.AsyncClient, **spec) -> dict:
    response = await http.post(
        f"{emulator.url}/_emulator/transfers", json={"deliver": False, **spec}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_status_query_returns_the_listed_transfers_for_the_code_as_missed_webhooks(
    emulator, http
):
    payment_id = new_id()
    code = payment_code("PR", payment_id)
    spaced = f"{code[:10].lower()} {code[10:]}"
    first = await transfer(emulator, http, content=f"MBVCB.1.2 {spaced} ck", amount=100000)
    second = await transfer(emulator, http, content=code, amount=50000)
    await transfer(emulator, http, content=code, amount=7000, transfer_type="out")
    await transfer(emulator, http, content=payment_code("PR", new_id()), amount=1)
    await transfer(emulator, http, content="no code", amount=2)
    await transfer(emulator, http, content=code, amount=3, account_number="88888888")
    sepay = connector(http, emulator.url)

    result = await sepay.query_status(StatusQuery(payment_id, "ref", code))

    assert result.outcome is PaymentOutcome.PENDING
    assert result.gateway_status == "TRANSFERS_FOUND"
    assert result.gateway_transaction_id == code
    events = sorted(result.missed_events, key=lambda event: event.event_id)
    assert [event.event_id for event in events] == [str(first["id"]), str(second["id"])]
    assert [event.amount for event in events] == [Decimal(100000), Decimal(50000)]
    assert all(event.gateway_transaction_id == code for event in events)
    assert all(event.outcome is PaymentOutcome.FUNDS_RECEIVED for event in events)
    assert sorted(result.raw["transfers_found"]) == [str(first["id"]), str(second["id"])]


async def test_a_missed_event_is_a_webhook_body_that_parses_back_to_the_same_event(emulator, http):
    payment_id = new_id()
    code = payment_code("PR", payment_id)
    sent = await transfer(emulator, http, content=f"thanh toan {code}", amount=150000)
    sepay = connector(http, emulator.url)
    [event] = (await sepay.query_status(StatusQuery(payment_id, "ref", code))).missed_events

    stored = orjson.dumps(dict(event.raw))  # what the core stores in the inbox
    [again] = sepay.parse_webhook(IncomingWebhook({}, stored, datetime(2031, 1, 1, tzinfo=UTC)))
    assert again == event
    assert event.event_id == str(sent["id"])
    # The webhook SePay would have sent has the same fields and values.
    assert {key: event.raw[key] for key in ("id", "transferType", "transferAmount")} == {
        key: sent["payload"][key] for key in ("id", "transferType", "transferAmount")
    }
    assert event.raw["content"] == sent["payload"]["content"]
    assert event.raw["transactionDate"] == sent["payload"]["transactionDate"]


async def test_the_code_is_derived_when_the_payment_has_none_stored(emulator, http):
    payment_id = new_id()
    await transfer(emulator, http, content=payment_code("PR", payment_id), amount=10)
    result = await connector(http, emulator.url).query_status(StatusQuery(payment_id, "r", None))
    assert len(result.missed_events) == 1


async def test_nothing_found_is_still_pending(emulator, http):
    payment_id = new_id()
    result = await connector(http, emulator.url).query_status(StatusQuery(payment_id, "r", None))
    assert result.outcome is PaymentOutcome.PENDING
    assert result.gateway_status == "AWAITING_TRANSFER"
    assert result.missed_events == ()


async def test_transfers_before_the_payment_existed_are_not_listed(emulator, http):
    payment_id = new_id()
    code = payment_code("PR", payment_id)
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    await transfer(emulator, http, content=code, amount=10, transaction_date=old)
    result = await connector(http, emulator.url).query_status(StatusQuery(payment_id, "r", code))
    assert result.missed_events == ()


async def test_a_refused_token_or_rate_limit_is_an_unknown_answer_never_a_blind_pending(
    emulator, http
):
    payment_id = new_id()
    wrong = connector(http, emulator.url, api_token="WRONGTOKEN123")
    with pytest.raises(GatewayOutcomeUnknown, match="HTTP 401"):
        await wrong.query_status(StatusQuery(payment_id, "r", None))
    # One call an hour: the first query is answered, the next one is refused.
    limits = {"rate_limit": "1", "rate_limit_window": "3600"}
    await http.post(f"{emulator.url}/_emulator/settings", json=limits)
    sepay = connector(http, emulator.url)
    await sepay.query_status(StatusQuery(payment_id, "r", None))
    with pytest.raises(GatewayOutcomeUnknown, match="HTTP 429"):
        await sepay.query_status(StatusQuery(payment_id, "r", None))


async def test_an_unreachable_api_is_not_sent(http):
    sepay = connector(http, "http://127.0.0.1:9")
    with pytest.raises(GatewayNotSent):
        await sepay.query_status(StatusQuery(new_id(), "r", None))


def listing(*items: dict) -> httpx.MockTransport:
    body = {"status": 200, "error": None, "messages": {"success": True}, "transactions": items}
    return httpx.MockTransport(lambda request: httpx.Response(200, json=body))


async def test_an_unreadable_transaction_blocks_only_the_payment_it_names():
    payment_id = new_id()
    code = payment_code("PR", payment_id)
    other = {"id": "1", "amount_in": "12.5", "transaction_content": "someone else"}
    ours = {"id": "2", "amount_in": "abc", "transaction_content": f"pay {code}"}
    async with httpx.AsyncClient(transport=listing(other)) as client:
        result = await connector(client).query_status(StatusQuery(payment_id, "r", code))
        assert result.missed_events == ()
    async with httpx.AsyncClient(transport=listing(other, ours)) as client:
        with pytest.raises(GatewayOutcomeUnknown, match="unreadable"):
            await connector(client).query_status(StatusQuery(payment_id, "r", code))


async def test_the_default_host_is_sepays_and_the_call_is_the_v1_list():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": 200, "transactions": []})

    payment_id = new_id()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await connector(client).query_status(StatusQuery(payment_id, "r", None))
    [request] = seen
    assert str(request.url).startswith("https://my.sepay.vn/userapi/transactions/list?")
    assert request.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert request.url.params["account_number"] == "0123499999"
    assert request.url.params["limit"] == "5000"
    assert request.url.params["transaction_date_min"] < datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize(
    "body", [b"<html>", b"[]", b'{"status": 200}', b'{"transactions": {"id": 1}}']
)
async def test_a_malformed_listing_is_an_unknown_answer(body):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(GatewayOutcomeUnknown):
            await connector(client).query_status(StatusQuery(new_id(), "r", None))
