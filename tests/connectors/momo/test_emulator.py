"""The MoMo emulator behaves like MoMo per the spec (PART A, checklist PART C): signatures,
result codes and error shapes, the requestId rules, the state machine, signed IPNs."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from payrelay import connectors
from payrelay.connectors.momo import signatures, transformers
from tests.callback.receiver import Receiver, Reply
from tests.connectors.momo.helpers import ACCESS, PARTNER, SECRET, Emulator
from tests.emulators import RunningEmulator


@pytest.fixture
def emulator():
    with RunningEmulator("momo") as running:
        yield Emulator(running.url)


@pytest.fixture
def receiver():
    with Receiver() as running:
        running.default = Reply(status=204, body=b"")
        yield running


def create_body(**overrides) -> dict:
    key = uuid.uuid4().hex
    body = {
        "partnerCode": PARTNER,
        "requestId": f"req-{key}",
        "amount": 50000,
        "orderId": f"ORD-{key}",
        "orderInfo": "Thanh toán đơn hàng",
        "redirectUrl": "https://shop.example/return",
        "ipnUrl": "https://shop.example/ipn",
        "requestType": "captureWallet",
        "extraData": "",
        "lang": "vi",
    }
    body.update(overrides)
    return body


async def created(emulator: Emulator, **overrides) -> dict:
    response = await emulator.api("create", create_body(**overrides))
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_answers_a_pay_url_deeplink_and_qr_payload(emulator):
    body = create_body()
    response = await emulator.api("create", body)

    assert response.status_code == 200
    answer = response.json()
    assert answer["resultCode"] == 0
    assert answer["message"] == "Thành công."
    assert answer["orderId"] == body["orderId"]
    assert answer["requestId"] == body["requestId"]
    assert answer["amount"] == 50000
    assert re.fullmatch(
        re.escape(emulator.url) + r"/v2/gateway/pay\?t=[\w-]+&s=[0-9a-f]{64}", answer["payUrl"]
    )
    assert answer["qrCodeUrl"].startswith("00020101021226110007vn.momo")
    assert answer["deeplink"].startswith("momo://")
    assert "signature" not in answer  # not documented: off unless asked for


async def test_amount_as_text_is_accepted(emulator):
    answer = await created(emulator, amount="50000")
    assert answer["resultCode"] == 0


async def test_bad_signature_is_400_with_result_code_20_and_sub_errors(emulator):
    body = create_body()
    response = await emulator.api("create", body, secret="not-the-secret")

    assert response.status_code == 400
    answer = response.json()
    assert answer["resultCode"] == 20
    assert answer["message"] == "Bad format request."
    [error] = answer["subErrors"]
    assert error["field"] == "signature"
    assert "Chữ ký không hợp lệ" in error["message"]
    assert f"orderId={body['orderId']}" in error["message"]
    assert ACCESS not in error["message"]  # the access key is masked
    # Nothing was created and the requestId is still free.
    assert (await emulator.api("create", body)).json()["resultCode"] == 0


async def test_a_changed_field_breaks_the_signature(emulator):
    signed = signatures.signed(SECRET, ACCESS, signatures.CREATE, create_body())
    tampered = {**signed, "amount": 1000}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emulator.url}/v2/gateway/api/create", json=tampered)
    assert response.status_code == 400
    assert response.json()["resultCode"] == 20


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": 999}, 22),
        ({"amount": 50_000_001}, 22),
        ({"amount": 5_000, "requestType": "payWithATM"}, 22),
        ({"amount": 10_000_001, "requestType": "payWithCC"}, 22),
        ({"amount": "12.5"}, 21),
        ({"orderId": "-starts-with-a-dash"}, 20),
        ({"orderId": "has space"}, 20),
        ({"orderId": "x" * 201}, 20),
        ({"requestType": "payWithMagic"}, 20),
        ({"extraData": "not base64 json"}, 20),
        ({"lang": "fr"}, 20),
        ({"partnerCode": "SOMEONE"}, 13),
    ],
)
async def test_create_refusals(emulator, overrides, code):
    response = await emulator.api("create", create_body(**overrides))
    assert response.json()["resultCode"] == code
    assert response.status_code == 400


async def test_a_missing_field_is_a_bad_format(emulator):
    body = create_body()
    del body["ipnUrl"]
    response = await emulator.api("create", {**body, "ipnUrl": ""})
    assert response.json()["resultCode"] == 20
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emulator.url}/v2/gateway/api/create", json=body)
    assert response.status_code == 400
    assert {"field": "ipnUrl", "message": "Trường dữ liệu bắt buộc."} in response.json()[
        "subErrors"
    ]


async def test_a_final_result_is_replayed_for_the_same_request_id(emulator):
    body = create_body()
    first = await emulator.api("create", body)
    again = await emulator.api("create", body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(await emulator.calls("create")) == 2


async def test_a_non_final_result_replayed_gives_40(emulator):
    body = create_body(amount=999)
    assert (await emulator.api("create", body)).json()["resultCode"] == 22
    replay = await emulator.api("create", body)
    assert replay.json()["resultCode"] == 40


async def test_a_duplicate_while_in_flight_is_422_with_7000(emulator):
    body = create_body()
    await emulator.fault("create", "hang")  # done, but the answer is held back
    first = asyncio.create_task(emulator.api("create", body))
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        while (await client.get(f"/_emulator/orders/{body['orderId']}")).status_code == 404:
            await asyncio.sleep(0.02)

    duplicate = await emulator.api("create", body)

    assert duplicate.status_code == 422
    assert duplicate.json()["resultCode"] == 7000
    first.cancel()  # the first caller gives up; MoMo finishes the request anyway
    with pytest.raises(asyncio.CancelledError):
        await first
    while not [call for call in await emulator.calls("create") if call["status"] == 200]:
        await asyncio.sleep(0.02)
    replay = await emulator.api("create", body)
    assert replay.status_code == 200
    assert replay.json()["resultCode"] == 0
    assert replay.json()["orderId"] == body["orderId"]


async def test_a_reused_order_id_is_41(emulator):
    body = create_body()
    await emulator.api("create", body)
    again = await emulator.api("create", {**body, "requestId": "another-request"})
    assert again.json()["resultCode"] == 41


async def test_an_error_fault_answers_500_and_does_nothing(emulator):
    body = create_body()
    await emulator.fault("create", "error")
    failed = await emulator.api("create", body)
    assert failed.status_code == 500
    assert (await emulator.api("create", body)).json()["resultCode"] == 0


async def query(emulator: Emulator, order_id: str) -> httpx.Response:
    body = {"partnerCode": PARTNER, "requestId": uuid.uuid4().hex, "orderId": order_id}
    return await emulator.api("query", {**body, "lang": "vi"})


async def test_query_tells_the_state_and_an_unknown_order_is_42(emulator):
    order = await created(emulator)
    answer = (await query(emulator, order["orderId"])).json()
    assert answer["resultCode"] == 1000
    assert answer["payType"] == ""
    assert answer["transId"] == 0
    unknown = await query(emulator, "NO-SUCH-ORDER")
    assert unknown.status_code == 400
    assert unknown.json()["resultCode"] == 42


async def test_a_query_request_id_replayed_while_pending_is_40(emulator):
    order = await created(emulator)
    body = {"partnerCode": PARTNER, "requestId": "q-1", "orderId": order["orderId"], "lang": "vi"}
    assert (await emulator.api("query", body)).json()["resultCode"] == 1000
    assert (await emulator.api("query", body)).json()["resultCode"] == 40


def confirm_body(order_id: str, request_type: str = "capture", amount: int = 50000) -> dict:
    return {
        "partnerCode": PARTNER,
        "requestId": uuid.uuid4().hex,
        "orderId": order_id,
        "requestType": request_type,
        "amount": amount,
        "lang": "vi",
        "description": "",
    }


async def test_two_step_flow_authorizes_then_captures(emulator):
    order = await created(emulator, autoCapture=False)
    refused = await emulator.api("confirm", confirm_body(order["orderId"]))
    assert refused.json()["resultCode"] == 47  # not authorized yet
    paid = await emulator.pay(order["orderId"], notify=False)
    assert paid["order"]["resultCode"] == 9000
    wrong = await emulator.api("confirm", confirm_body(order["orderId"], amount=40000))
    assert wrong.json()["resultCode"] == 22  # capture must equal the held amount

    captured = await emulator.api("confirm", confirm_body(order["orderId"]))

    assert captured.status_code == 200
    assert captured.json()["resultCode"] == 0
    assert captured.json()["transId"] == paid["order"]["transId"]
    assert (await query(emulator, order["orderId"])).json()["resultCode"] == 0


async def test_cancel_releases_the_hold(emulator):
    order = await created(emulator, autoCapture=False)
    await emulator.pay(order["orderId"], notify=False)
    cancelled = await emulator.api("confirm", confirm_body(order["orderId"], "cancel"))
    assert cancelled.json()["resultCode"] == 0
    assert (await query(emulator, order["orderId"])).json()["resultCode"] == 1017


def refund_body(trans_id: int, amount: int, order_id: str | None = None) -> dict:
    key = order_id or f"RF-{uuid.uuid4().hex}"
    return {
        "partnerCode": PARTNER,
        "orderId": key,
        "requestId": key,
        "amount": amount,
        "transId": trans_id,
        "lang": "vi",
        "description": "hoàn tiền",
    }


async def test_refund_rules(emulator):
    order = await created(emulator)
    unpaid = await emulator.api("refund", refund_body(1, 10000))
    assert unpaid.json()["resultCode"] == 42
    paid = await emulator.pay(order["orderId"], notify=False)
    trans_id = paid["order"]["transId"]

    first = await emulator.api("refund", refund_body(trans_id, 20000))
    assert first.json()["resultCode"] == 0
    reused = await emulator.api("refund", refund_body(trans_id, 1000, order["orderId"]))
    assert reused.json()["resultCode"] == 41  # a refund needs an orderId of its own
    too_small = await emulator.api("refund", refund_body(trans_id, 999))
    assert too_small.json()["resultCode"] == 22
    too_much = await emulator.api("refund", refund_body(trans_id, 30001))
    assert too_much.status_code == 200
    assert too_much.json()["resultCode"] == 1081
    rest = await emulator.api("refund", refund_body(trans_id, 30000))
    assert rest.json()["resultCode"] == 0

    state = (await query(emulator, order["orderId"])).json()
    assert state["resultCode"] == 0
    assert [(r["amount"], r["resultCode"]) for r in state["refundTrans"]] == [
        (20000, 0),
        (30000, 0),
    ]


async def test_an_unpaid_or_failed_order_is_not_refundable(emulator):
    order = await created(emulator, autoCapture=False)
    paid = await emulator.pay(order["orderId"], notify=False)  # 9000: held, not paid
    refused = await emulator.api("refund", refund_body(paid["order"]["transId"], 10000))
    assert refused.json()["resultCode"] == 1088


async def test_the_ipn_is_signed_and_sent_to_the_ipn_url(emulator, receiver):
    order = await created(emulator, ipnUrl=receiver.url, autoCapture=False)

    paid = await emulator.pay(order["orderId"])

    [request] = receiver.received
    ipn = transformers.loads(request.body)
    assert paid["ipn"]["attempts"] == [{"status": 204}]
    assert ipn["resultCode"] == 9000
    assert ipn["orderType"] == "momo_wallet"
    assert ipn["payType"] == "qr"
    assert ipn["orderInfo"] == "Thanh toán đơn hàng"
    assert set(ipn) == {name for name in signatures.IPN if name != "accessKey"} | {"signature"}
    assert signatures.is_valid(SECRET, ACCESS, signatures.IPN, ipn)


async def test_the_ipn_is_retried_until_answered_204_where_configured(receiver):
    receiver.reply(Reply(status=500), Reply(status=200))
    options = {"ipn_retries": "3", "ipn_retry_seconds": "0.05"}
    with RunningEmulator("momo", options) as running:
        emulator = Emulator(running.url)
        order = await created(emulator, ipnUrl=receiver.url)
        await emulator.pay(order["orderId"], outcome="decline", result_code=1001)
        for _ in range(200):
            attempts = (await emulator.order(order["orderId"]))["ipns"][0]["attempts"]
            if len(attempts) == 3:
                break
            await asyncio.sleep(0.02)
    assert attempts == [{"status": 500}, {"status": 200}, {"status": 204}]
    bodies = {request.body for request in receiver.received}
    assert len(bodies) == 1  # the same IPN each time


async def test_an_expired_order_gets_1005(receiver):
    with RunningEmulator("momo", {"pay_url_ttl_seconds": "0"}) as running:
        emulator = Emulator(running.url)
        order = await created(emulator, ipnUrl=receiver.url)
        paid = await emulator.pay(order["orderId"])
    assert paid["order"]["resultCode"] == 1005
    assert transformers.loads(receiver.received[0].body)["resultCode"] == 1005


async def test_the_pay_page_pays_and_redirects_with_a_signed_result(emulator, receiver):
    order = await created(emulator, ipnUrl=receiver.url, redirectUrl="https://shop.example/r?x=1")
    async with httpx.AsyncClient() as client:
        page = await client.get(order["payUrl"])
        assert page.status_code == 200
        assert order["orderId"] in page.text
        query_ = dict(parse_qsl(urlsplit(order["payUrl"]).query))
        tampered = await client.get(f"{emulator.url}/v2/gateway/pay", params={**query_, "s": "0"})
        assert tampered.status_code == 404
        chosen = await client.post(
            f"{emulator.url}/v2/gateway/pay", data={**query_, "outcome": "success"}
        )
    assert chosen.status_code == 303
    location = urlsplit(chosen.headers["location"])
    assert location.netloc == "shop.example"
    params = dict(parse_qsl(location.query, keep_blank_values=True))
    assert params["x"] == "1"
    assert params["resultCode"] == "0"
    assert signatures.is_valid(SECRET, ACCESS, signatures.IPN, params)
    assert len(receiver.received) == 1


async def test_control_api_refuses_bad_choices(emulator):
    order = await created(emulator)
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        path = f"/_emulator/orders/{order['orderId']}/pay"
        assert (await client.post(path, json={"outcome": "maybe"})).status_code == 422
        wrong = {"outcome": "decline", "result_code": 0}
        assert (await client.post(path, json=wrong)).status_code == 422
        assert (await client.post(path, content=b"{")).status_code == 422
        for bad in ({"outcome": "success", "pay_type": 5}, {"outcome": "success", "notify": 1}):
            assert (await client.post(path, json=bad)).status_code == 422
        assert (await client.post("/_emulator/orders/NONE/pay", json={})).status_code == 404
        assert (await client.post(path, json={"outcome": "success"})).status_code == 200
        assert (await client.post(path, json={"outcome": "success"})).status_code == 409
        bad_fault = {"operation": "create", "mode": "explode"}
        assert (await client.post("/_emulator/faults", json=bad_fault)).status_code == 422


@pytest.mark.parametrize(
    "options",
    [
        {"no_such_option": "1"},
        {"ipn_retries": "many"},
        {"ipn_accept": "3xx"},
        {"sign_responses": "maybe"},
    ],
)
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError, match="momo emulator option"):
        connectors.emulator_app("momo", options)


async def test_options_for_unconfirmed_facts():
    options = {"sign_responses": "true", "error_http_status": "200"}
    with RunningEmulator("momo", options) as running:
        emulator = Emulator(running.url)
        answer = await created(emulator, lang="en")
        assert answer["message"] == "Successful."
        assert signatures.is_valid(SECRET, ACCESS, signatures.CREATE_RESPONSE, answer)
        unknown = await query(emulator, "NO-SUCH-ORDER")
        assert unknown.status_code == 200
        assert unknown.json()["resultCode"] == 42
