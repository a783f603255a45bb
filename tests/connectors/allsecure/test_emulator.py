"""The AllSecure emulator behaves like the gateway per the spec (3.1–3.9): authentication and
signatures with IXOPAY's error shapes, validation, merchantTransactionId once, the state rules
of capture, void and refund, the status API, the payment page and signed callbacks."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from payrelay import connectors
from tests.callback.receiver import Receiver, Reply
from tests.connectors.allsecure.helpers import (
    API_KEY,
    JSON_TYPE,
    PASSWORD,
    SECRET,
    USERNAME,
    Emulator,
    x_signature,
)
from tests.emulators import RunningEmulator

TRANSACTION = f"/api/v3/transaction/{API_KEY}"
STATUS = f"/api/v3/status/{API_KEY}"


@pytest.fixture
def gateway(emulator) -> Emulator:
    return Emulator(emulator.url)


def payment(**overrides) -> dict:
    return {
        "merchantTransactionId": f"m-{uuid.uuid4().hex}",
        "amount": "100.00",
        "currency": "EUR",
        "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/cancel",
        "errorUrl": "https://shop.example/error",
        **overrides,
    }


async def authorized(gateway: Emulator, amount: str = "100.00") -> dict:
    await gateway.next("approve")
    answer = await gateway.api("POST", f"{TRANSACTION}/preauthorize", payment(amount=amount))
    assert answer.json()["returnType"] == "FINISHED", answer.text
    return answer.json()


async def follow_up(gateway: Emulator, action: str, reference: str, **body) -> dict:
    sent = {"merchantTransactionId": f"{action}-{uuid.uuid4().hex}", "referenceUuid": reference}
    answer = await gateway.api("POST", f"{TRANSACTION}/{action}", {**sent, **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_debit_answers_a_redirect_to_the_payment_page(gateway):
    sent = payment()
    answer = await gateway.api("POST", f"{TRANSACTION}/debit", sent)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["success"], body["returnType"], body["redirectType"]) == (
        True,
        "REDIRECT",
        "fullpage",
    )
    assert len(body["uuid"]) == 20
    assert body["purchaseId"].endswith(f"-{body['uuid']}")
    assert urlsplit(body["redirectUrl"]).path.startswith(f"/redirect/{body['uuid']}/")
    status = await gateway.api(
        "GET", f"{STATUS}/getByMerchantTransactionId/{sent['merchantTransactionId']}"
    )
    assert status.json()["transactionStatus"] == "REDIRECT"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"auth": (USERNAME, "wrong")}, 401, 1000),
        ({"secret": "wrong-secret"}, 401, 1004),
        ({"path": "/api/v3/transaction/another-key/debit"}, 401, 1007),
    ],
    ids=["basic-auth", "signature", "api-key"],
)
async def test_requests_are_authenticated_like_allsecure_does(gateway, change, status, code):
    path = change.pop("path", f"{TRANSACTION}/debit")
    answer = await gateway.api("POST", path, payment(), **change)
    assert answer.status_code == status
    assert answer.json() == {
        "success": False,
        "errorMessage": answer.json()["errorMessage"],
        "errorCode": code,
    }
    assert await gateway.transactions() == []


async def test_a_request_without_signature_or_date_is_refused(gateway):
    unsigned = await gateway.call(
        "POST", f"{TRANSACTION}/debit", json=payment(), auth=(USERNAME, PASSWORD)
    )
    assert (unsigned.status_code, unsigned.json()["errorCode"]) == (401, 1004)


async def test_either_body_hash_is_accepted_and_the_date_is_taken_as_sent(gateway):
    sha512 = await gateway.api("POST", f"{TRANSACTION}/debit", payment(), body_hash="sha512")
    php_date = await gateway.api(
        "POST", f"{TRANSACTION}/debit", payment(), date="Tue, 21 Apr 2020 12:45:55 UTC"
    )
    assert (sha512.status_code, php_date.status_code) == (200, 200)


async def test_the_date_can_be_required_to_be_current():
    with RunningEmulator("allsecure", {"date_tolerance_seconds": "300"}) as running:
        stale = await Emulator(running.url).api(
            "POST", f"{TRANSACTION}/debit", payment(), date="Tue, 21 Apr 2020 12:45:55 UTC"
        )
    assert (stale.status_code, stale.json()["errorCode"]) == (401, 1004)


async def test_signatures_can_be_optional_per_merchant_configuration():
    with RunningEmulator("allsecure", {"signature_required": "false"}) as running:
        unsigned = await Emulator(running.url).call(
            "POST", f"{TRANSACTION}/debit", json=payment(), auth=(USERNAME, PASSWORD)
        )
    assert unsigned.status_code == 200, unsigned.text


@pytest.mark.parametrize(
    "change",
    [
        {"amount": None},
        {"amount": "9,99"},
        {"amount": "0"},
        {"amount": "12345678901"},
        {"currency": "eur"},
        {"currency": "USD"},  # not accepted by this connector (option `currencies`)
        {"merchantTransactionId": "x" * 51},
        {"callbackUrl": "ftp://example"},
        {"merchantMetaData": "m" * 256},
    ],
)
async def test_invalid_requests_are_refused_with_1002(gateway, change):
    answer = await gateway.api("POST", f"{TRANSACTION}/debit", payment(**change))
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == 1002
    assert answer.json()["success"] is False


@pytest.mark.parametrize("amount", ["10", "10.5", "10.125"])
async def test_amounts_as_the_php_client_sends_them(gateway, amount):
    answer = await gateway.api("POST", f"{TRANSACTION}/debit", payment(amount=amount))
    assert answer.status_code == 200, answer.text


async def test_a_merchant_transaction_id_is_taken_once(gateway):
    sent = payment()
    first = await gateway.api("POST", f"{TRANSACTION}/debit", sent)
    again = await gateway.api("POST", f"{TRANSACTION}/preauthorize", sent)
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json() == {
        "success": False,
        "errorMessage": f"The transaction ID '{sent['merchantTransactionId']}' already exists!",
        "errorCode": 3004,
    }
    assert len(await gateway.transactions()) == 1


async def test_capture_void_and_refund_follow_the_gateway_rules(gateway):
    await gateway.next("approve")
    debit = (await gateway.api("POST", f"{TRANSACTION}/debit", payment())).json()
    not_preauthorized = await follow_up(
        gateway, "capture", debit["uuid"], amount="1.00", currency="EUR"
    )
    assert (not_preauthorized["returnType"], not_preauthorized["errors"][0]["errorCode"]) == (
        "ERROR",
        1006,
    )

    held = await authorized(gateway, "100.00")
    too_much = await follow_up(gateway, "capture", held["uuid"], amount="100.01", currency="EUR")
    assert too_much["errors"][0]["errorCode"] == 1006
    other_currency = await follow_up(
        gateway, "capture", held["uuid"], amount="10.00", currency="RSD"
    )
    assert other_currency["errors"][0]["errorCode"] == 1006
    capture = await follow_up(gateway, "capture", held["uuid"], amount="70.00", currency="EUR")
    assert (capture["success"], capture["returnType"]) == (True, "FINISHED")
    twice = await follow_up(gateway, "capture", held["uuid"], amount="10.00", currency="EUR")
    assert twice["errors"][0]["errorCode"] == 1006
    void_after_capture = await follow_up(gateway, "void", held["uuid"])
    assert void_after_capture["errors"][0]["errorCode"] == 1006
    refund_the_preauthorization = await follow_up(
        gateway, "refund", held["uuid"], amount="1.00", currency="EUR"
    )
    assert refund_the_preauthorization["errors"][0]["errorCode"] == 1006

    assert (await follow_up(gateway, "refund", capture["uuid"], amount="50.00", currency="EUR"))[
        "success"
    ]
    over = await follow_up(gateway, "refund", capture["uuid"], amount="20.01", currency="EUR")
    assert over["errors"][0]["errorCode"] == 1006
    assert (await follow_up(gateway, "refund", capture["uuid"], amount="20.00", currency="EUR"))[
        "success"
    ]
    view = await gateway.transaction(capture["uuid"])
    assert (view["amount"], view["refunded"]) == ("70.00", "70.00")

    second = await authorized(gateway)
    assert (await follow_up(gateway, "void", second["uuid"]))["success"]
    after_void = await follow_up(gateway, "capture", second["uuid"], amount="1.00", currency="EUR")
    assert after_void["errors"][0]["errorCode"] == 1006
    unknown = await gateway.api(
        "POST", f"{TRANSACTION}/void", {"merchantTransactionId": "v-x", "referenceUuid": "nope"}
    )
    assert (unknown.status_code, unknown.json()["errorCode"]) == (400, 1002)


async def test_a_refused_follow_up_still_takes_its_merchant_transaction_id(gateway):
    held = await authorized(gateway)
    body = {
        "merchantTransactionId": "capture-1",
        "referenceUuid": held["uuid"],
        "amount": "999.00",
        "currency": "EUR",
    }
    refused = await gateway.api("POST", f"{TRANSACTION}/capture", body)
    again = await gateway.api("POST", f"{TRANSACTION}/capture", {**body, "amount": "1.00"})
    assert refused.json()["returnType"] == "ERROR"
    assert again.json()["errorCode"] == 3004


@pytest.mark.parametrize(
    "emulator_options", [{"partial_capture": "false", "partial_refund": "false"}]
)
async def test_partial_capture_and_refund_can_be_switched_off(gateway):
    held = await authorized(gateway, "100.00")
    partial = await follow_up(gateway, "capture", held["uuid"], amount="50.00", currency="EUR")
    assert partial["errors"][0]["errorCode"] == 1006
    full = await follow_up(gateway, "capture", held["uuid"], amount="100.00", currency="EUR")
    partial_refund = await follow_up(
        gateway, "refund", full["uuid"], amount="10.00", currency="EUR"
    )
    assert partial_refund["errors"][0]["errorCode"] == 1006


@pytest.mark.parametrize("emulator_options", [{"authorization_ttl_seconds": "0.001"}])
async def test_an_expired_preauthorization_cannot_be_captured(gateway):
    held = await authorized(gateway)
    late = await follow_up(gateway, "capture", held["uuid"], amount="100.00", currency="EUR")
    assert late["errors"][0]["errorCode"] == 2005


async def test_the_status_api(gateway):
    held = await authorized(gateway, "12.30")
    by_uuid = (await gateway.api("GET", f"{STATUS}/getByUuid/{held['uuid']}")).json()
    assert by_uuid["success"] is True
    assert (by_uuid["transactionStatus"], by_uuid["transactionType"]) == ("SUCCESS", "PREAUTHORIZE")
    assert (by_uuid["amount"], by_uuid["currency"]) == ("12.30", "EUR")
    assert by_uuid["returnData"]["_TYPE"] == "cardData"
    by_id = await gateway.api(
        "GET", f"{STATUS}/getByMerchantTransactionId/{by_uuid['merchantTransactionId']}"
    )
    assert by_id.json() == by_uuid
    missing = await gateway.api("GET", f"{STATUS}/getByUuid/0000")
    assert (missing.status_code, missing.json()) == (
        200,
        {"success": False, "errorMessage": "Transaction not found", "errorCode": 8001},
    )
    refused = await follow_up(gateway, "capture", held["uuid"], amount="99.00", currency="EUR")
    failed = (await gateway.api("GET", f"{STATUS}/getByUuid/{refused['uuid']}")).json()
    assert failed["transactionStatus"] == "ERROR"
    assert failed["referenceUuid"] == held["uuid"]
    assert failed["errors"][0]["code"] == "1006"


async def test_the_payment_page_returns_the_customer_and_calls_back_signed(gateway):
    with Receiver() as receiver:
        receiver.default = Reply(status=200, body=b"OK")
        callback_url = receiver.url + "?shop=1"
        sent = payment(callbackUrl=callback_url)
        page = (await gateway.api("POST", f"{TRANSACTION}/debit", sent)).json()["redirectUrl"]
        async with httpx.AsyncClient() as browser:
            assert (await browser.get(page.replace("/redirect/", "/redirect/x"))).status_code == 404
            chosen = await browser.post(page, data={"outcome": "approve"})
            again = await browser.post(page, data={"outcome": "approve"})
        [request] = receiver.received

    assert (chosen.status_code, chosen.headers["location"]) == (303, "https://shop.example/ok")
    assert again.status_code == 409
    headers, body = request.headers, request.body
    assert headers["content-type"] == JSON_TYPE
    uri = urlsplit(callback_url).path + "?shop=1"
    assert headers["x-signature"] == x_signature(SECRET, "POST", body, headers["date"], uri)
    callback = httpx.Response(200, content=body).json()
    assert callback["result"] == "OK"
    assert callback["merchantTransactionId"] == sent["merchantTransactionId"]
    assert (callback["transactionType"], callback["amount"], callback["currency"]) == (
        "DEBIT",
        "100.00",
        "EUR",
    )


@pytest.mark.parametrize(
    "emulator_options",
    [{"callback_body_hash": "sha512", "callback_retries": "2", "callback_retry_seconds": "0.05"}],
)
async def test_callbacks_are_retried_until_answered_ok(gateway):
    with Receiver() as receiver:
        receiver.reply(Reply(status=200, body=b"received"), Reply(status=500))
        receiver.default = Reply(status=200, body=b"OK")
        await gateway.next("approve")
        answer = await gateway.api(
            "POST", f"{TRANSACTION}/debit", payment(callbackUrl=receiver.url)
        )
        uuid_ = answer.json()["uuid"]
        for _ in range(200):
            attempts = (await gateway.transaction(uuid_))["callbacks"][0]["attempts"]
            if len(attempts) == 3:
                break
            await asyncio.sleep(0.02)
        requests = list(receiver.received)

    assert [attempt["status"] for attempt in attempts] == [200, 500, 200]
    assert len(requests) == 3
    for request in requests:  # each attempt is dated and signed when it is sent
        uri = urlsplit(receiver.url).path
        assert request.headers["x-signature"] == x_signature(
            SECRET, "POST", request.body, request.headers["date"], uri, "sha512"
        )
    assert requests[0].body == requests[2].body  # the same body every time


async def test_faults_and_control_input(gateway):
    await gateway.fault("debit", "error")
    failed = await gateway.api("POST", f"{TRANSACTION}/debit", payment())
    assert (failed.status_code, failed.json()["errorCode"]) == (500, 1008)
    assert await gateway.transactions() == []
    for bad in ({"outcome": "maybe"}, {"outcome": "decline", "error_code": "x"}, [1]):
        answer = await gateway.call("POST", "/_emulator/next", json=bad)
        assert answer.status_code == 422


def test_options_are_checked():
    for bad in (
        {"nope": "1"},
        {"on_create": "later"},
        {"callback_body_hash": "sha1"},
        {"partial_capture": "maybe"},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            connectors.emulator_app("allsecure", bad)
