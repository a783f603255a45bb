"""payrelay and the MoMo emulator over real HTTP: create, pay, capture, void, refund; each flow
ends with the merchant's callback delivered."""

from __future__ import annotations

import base64
import json

import pytest

from payrelay.connectors.momo import transformers
from tests.callback.receiver import Receiver
from tests.connectors.momo.helpers import delivered, momo_shop
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import create_operation, error_code, operations, rows


@pytest.fixture
def emulator():
    with RunningEmulator("momo") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def test_automatic_capture(factory, db, settings, emulator, receiver):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)

    payment = await momo.created(
        amount="150000",
        description="Thanh toán đơn hàng #123 & quà = 1",
        return_url="https://shop.example/return",
    )

    assert payment["status"] == "pending"
    assert payment["payment_method"] == "momo_wallet"
    assert payment["next_action"]["type"] == "redirect"
    assert payment["next_action"]["url"].startswith(f"{emulator.url}/v2/gateway/pay?t=")
    order_id = transformers.order_id_for(payment["order_reference"])
    assert payment["gateway_transaction_id"] == order_id
    [call] = await momo.emulator.calls("create")
    sent = call["request"]
    assert (
        sent["requestId"] == (await create_operation(db, payment["id"]))["gateway_idempotency_key"]
    )
    assert sent["requestId"].startswith("payrelay-")
    assert sent["orderId"] == order_id
    assert sent["amount"] == 150000
    assert sent["autoCapture"] is True
    assert sent["requestType"] == "captureWallet"
    assert sent["lang"] == "vi"
    assert sent["orderInfo"] == "Thanh toán đơn hàng 123 quà 1"
    assert sent["redirectUrl"] == "https://shop.example/return"
    assert sent["ipnUrl"] == f"{settings.public_url}/webhooks/momo/{momo.account_id}"
    echoed = json.loads(base64.b64decode(sent["extraData"]))
    assert echoed == {"payrelay_payment_id": payment["id"], "capture_method": "automatic"}
    [stored] = await rows(
        db,
        "SELECT gateway_response FROM payment_transactions WHERE payment_request_id = :p",
        p=payment["id"],
    )
    assert stored["gateway_response"]["deeplink"].startswith("momo://")
    assert stored["gateway_response"]["qrCodeUrl"].startswith("00020101021226110007vn.momo")

    paid = await momo.pay(payment)

    assert paid["ipn"]["attempts"] == [{"status": 204}]  # MoMo's acknowledgement
    captured = await momo.shop.get(payment["id"])
    assert captured["status"] == "captured"
    assert captured["captured_amount"] == "150000"
    assert captured["next_action"] is None
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_payment_without_return_url_lets_momo_show_its_own_page(factory, emulator):
    momo = await momo_shop(factory, emulator.url)
    await momo.created(description=None)
    [call] = await momo.emulator.calls("create")
    assert call["request"]["redirectUrl"] == ""
    assert call["request"]["orderInfo"].startswith("Payment for order order-")


async def test_manual_capture_authorizes_then_captures_the_whole_hold(
    factory, db, emulator, receiver
):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created(capture_method="manual", amount="200000")
    [call] = await momo.emulator.calls("create")
    assert call["request"]["autoCapture"] is False

    paid = await momo.pay(payment)

    assert paid["ipn"]["body"]["resultCode"] == 9000
    authorized = await momo.shop.get(payment["id"])
    assert authorized["status"] == "authorized"
    assert authorized["authorized_amount"] == "200000"

    partial = await momo.shop.command(payment["id"], "capture", {"amount": "150000"})
    assert partial.status_code == 422, partial.text
    assert error_code(partial) == "unsupported_by_gateway"
    assert await momo.emulator.calls("confirm") == []  # refused before MoMo was asked

    captured = await momo.shop.command(payment["id"], "capture", key="capture-1")

    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured"
    assert captured.json()["captured_amount"] == "200000"
    [confirm] = await momo.emulator.calls("confirm")
    [capture_op] = await operations(db, payment["id"], "capture")
    assert confirm["request"]["requestId"] == capture_op["gateway_idempotency_key"]
    assert confirm["request"]["requestType"] == "capture"
    assert confirm["request"]["amount"] == 200000
    assert (await momo.emulator.order(payment["gateway_transaction_id"]))["resultCode"] == 0
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_void_cancels_the_hold(factory, db, emulator, receiver):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created(capture_method="manual")
    await momo.pay(payment)

    voided = await momo.shop.command(payment["id"], "void", {"reason": "hết hàng"})

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    [confirm] = await momo.emulator.calls("confirm")
    assert confirm["request"]["requestType"] == "cancel"
    assert confirm["request"]["description"] == "hết hàng"
    assert (await momo.emulator.order(payment["gateway_transaction_id"]))["resultCode"] == 1017
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_two_partial_refunds(factory, db, emulator, receiver):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created(amount="150000")
    await momo.pay(payment)

    first = await momo.shop.command(payment["id"], "refund", {"amount": "50000", "reason": "một"})
    second = await momo.shop.command(payment["id"], "refund", {"amount": "100000"})

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_refunded"
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "refunded"
    assert second.json()["refunded_amount"] == "150000"
    refunds = await operations(db, payment["id"], "refund")
    order = await momo.emulator.order(payment["gateway_transaction_id"])
    assert [(r["orderId"], r["amount"]) for r in order["refundTrans"]] == [
        (refunds[0]["gateway_idempotency_key"], 50000),
        (refunds[1]["gateway_idempotency_key"], 100000),
    ]
    sent = [call["request"] for call in await momo.emulator.calls("refund")]
    assert [body["transId"] for body in sent] == [order["transId"]] * 2
    assert [body["description"] for body in sent] == ["một", ""]
    more = await momo.shop.command(payment["id"], "refund", {"amount": "1000"})
    assert more.status_code == 409, more.text  # nothing left to refund
    await delivered(db, payment["id"], ["payment.captured", "payment.refunded", "payment.refunded"])


@pytest.mark.parametrize(
    ("result_code", "decline_code"), [(1006, "customer_cancelled"), (1001, "insufficient_funds")]
)
async def test_decline(factory, db, emulator, receiver, result_code, decline_code):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created()

    await momo.pay(payment, "decline", result_code=result_code)

    failed = await momo.shop.get(payment["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == decline_code
    assert failed["error"]["gateway_code"] == str(result_code)
    assert failed["gateway_status"] == str(result_code)
    await delivered(db, payment["id"], ["payment.failed"])


async def test_an_expired_pay_link_expires_the_payment(factory, db, receiver):
    with RunningEmulator("momo", {"pay_url_ttl_seconds": "0"}) as emulator:
        momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
        payment = await momo.created()
        paid = await momo.pay(payment)  # too late: MoMo answers 1005

    assert paid["ipn"]["body"]["resultCode"] == 1005
    expired = await momo.shop.get(payment["id"])
    assert expired["status"] == "expired"
    assert expired["gateway_status"] == "1005"
    await delivered(db, payment["id"], ["payment.expired"])


async def test_leaving_the_order_pending_changes_nothing(factory, db, emulator):
    momo = await momo_shop(factory, emulator.url)
    payment = await momo.created()
    answer = await momo.pay(payment, "pending")
    assert answer["ipn"] is None  # MoMo notifies results, not waiting
    assert (await momo.shop.get(payment["id"]))["status"] == "pending"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": "USD", "amount": "10.00"}, "unsupported_currency"),
        ({"amount": "999"}, "amount_out_of_range"),
        ({"amount": "50000001"}, "amount_out_of_range"),
    ],
)
async def test_limits_are_checked_before_any_call(factory, emulator, overrides, code):
    momo = await momo_shop(factory, emulator.url, request_type="payWithMethod")
    refused = await momo.create(**overrides)
    assert refused.status_code == 422, refused.text
    assert error_code(refused) == code
    assert await momo.emulator.calls() == []


async def test_pay_with_method_accounts(factory, emulator):
    momo = await momo_shop(factory, emulator.url, request_type="payWithMethod", lang="en")
    payment = await momo.created()
    assert payment["payment_method"] == "momo"
    [call] = await momo.emulator.calls("create")
    assert call["request"]["requestType"] == "payWithMethod"
    assert call["request"]["lang"] == "en"
