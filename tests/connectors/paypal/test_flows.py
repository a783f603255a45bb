"""payrelay and the PayPal emulator over real HTTP: the buyer approves, payrelay completes the
order, then captures, voids and refunds; each flow ends with the merchant's callback delivered."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.callback.receiver import Receiver
from tests.connectors.paypal.helpers import delivered, paypal_shop
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import create_operation, error_code, operations

SHOP_RETURN = "https://shop.example/paid?order=42"


@pytest.fixture
def emulator():
    with RunningEmulator("paypal") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def _follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow redirects like a browser until one leaves for the shop."""
    while response.status_code in (302, 303, 307):
        location = response.headers["location"]
        if location.startswith("https://shop.example/"):
            return response
        response = await client.get(location)
    return response


async def test_one_step_sale_through_the_buyers_browser(factory, db, settings, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)

    payment = await paypal.created(amount="100.00", description="Order #42", return_url=SHOP_RETURN)

    assert payment["status"] == "pending"
    assert payment["payment_method"] == "paypal"
    order_id = payment["gateway_transaction_id"]
    assert payment["next_action"] == {
        "type": "redirect",
        "url": f"{emulator.url}/checkoutnow?token={order_id}",
    }
    [create] = await paypal.emulator.calls("create")
    key = (await create_operation(db, payment["id"]))["gateway_idempotency_key"]
    assert create["request_id"] == key
    assert key.startswith("payrelay-")
    sent = create["request"]
    assert sent["intent"] == "CAPTURE"
    [unit] = sent["purchase_units"]
    assert unit["amount"] == {"currency_code": "USD", "value": "100.00"}
    assert unit["custom_id"] == payment["id"]
    assert unit["invoice_id"] == payment["order_reference"]
    assert unit["description"] == "Order #42"
    context = sent["payment_source"]["paypal"]["experience_context"]
    back = f"{settings.public_url}/return/paypal/{paypal.account_id}/{payment['id']}"
    assert context["return_url"] == context["cancel_url"] == back

    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(payment["next_action"]["url"])
        assert page.status_code == 200
        chosen = await browser.post(
            f"{emulator.url}/checkoutnow", data={"token": order_id, "choice": "balance"}
        )
        assert chosen.headers["location"].startswith(f"{back}?token={order_id}&PayerID=")
        at_shop = await _follow(browser, chosen)

    shop_url = urlsplit(at_shop.headers["location"])
    query = parse_qs(shop_url.query)
    assert query["order"] == ["42"]
    assert query["payment_id"] == [payment["id"]]
    assert query["status"][0] in ("pending", "captured")  # the webhook may complete it first
    captured = await paypal.status(payment["id"], "captured")
    assert captured["captured_amount"] == "100.00"
    assert captured["next_action"] is None
    assert len(await paypal.emulator.calls("capture_order")) == 1  # one completion reached PayPal
    [complete] = await operations(db, payment["id"], "complete")
    [capture_call] = await paypal.emulator.calls("capture_order")
    assert capture_call["request_id"] == complete["gateway_idempotency_key"]
    order = await paypal.emulator.order(order_id)
    assert order["status"] == "COMPLETED"
    assert order["purchase_units"][0]["payments"]["captures"][0]["status"] == "COMPLETED"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_authorize_then_partial_capture_then_two_partial_refunds(
    factory, db, emulator, receiver
):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual", amount="100.00")
    [create] = await paypal.emulator.calls("create")
    assert create["request"]["intent"] == "AUTHORIZE"

    await paypal.approve(payment)

    authorized = await paypal.status(payment["id"], "authorized")
    assert authorized["authorized_amount"] == "100.00"
    assert len(await paypal.emulator.calls("authorize_order")) == 1

    captured = await paypal.shop.command(payment["id"], "capture", {"amount": "60.00"})

    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured"
    assert captured.json()["captured_amount"] == "60.00"
    [capture_op] = await operations(db, payment["id"], "capture")
    [capture_call] = await paypal.emulator.calls("capture")
    assert capture_call["request_id"] == capture_op["gateway_idempotency_key"]
    assert capture_call["request"] == {
        "invoice_id": capture_op["gateway_idempotency_key"],
        "final_capture": True,
        "amount": {"currency_code": "USD", "value": "60.00"},
    }

    first = await paypal.shop.command(payment["id"], "refund", {"amount": "20.00", "reason": "a"})
    second = await paypal.shop.command(payment["id"], "refund", {"amount": "40.00"})

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_refunded"
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "refunded"
    assert second.json()["refunded_amount"] == "60.00"
    refunds = await operations(db, payment["id"], "refund")
    calls = await paypal.emulator.calls("refund")
    assert [c["request_id"] for c in calls] == [r["gateway_idempotency_key"] for r in refunds]
    assert calls[0]["request"]["note_to_payer"] == "a"
    order = await paypal.emulator.order(payment["gateway_transaction_id"])
    payments = order["purchase_units"][0]["payments"]
    assert payments["authorizations"][0]["status"] == "CAPTURED"  # final: the rest released
    assert payments["captures"][0]["status"] == "REFUNDED"
    assert [r["amount"]["value"] for r in payments["refunds"]] == ["20.00", "40.00"]
    more = await paypal.shop.command(payment["id"], "refund", {"amount": "1.00"})
    assert more.status_code == 409, more.text
    await delivered(
        db,
        payment["id"],
        ["payment.authorized", "payment.captured", "payment.refunded", "payment.refunded"],
    )


async def test_authorize_then_void(factory, db, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual", amount="35.50")
    await paypal.approve(payment)
    await paypal.status(payment["id"], "authorized")

    voided = await paypal.shop.command(payment["id"], "void", {"reason": "out of stock"})

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    [call] = await paypal.emulator.calls("void")
    [void_op] = await operations(db, payment["id"], "void")
    assert call["request_id"] == void_op["gateway_idempotency_key"]
    order = await paypal.emulator.order(payment["gateway_transaction_id"])
    assert order["purchase_units"][0]["payments"]["authorizations"][0]["status"] == "VOIDED"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_a_declined_card_fails_the_payment(factory, db, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created()

    await paypal.approve(payment, "declined")

    failed = await paypal.status(payment["id"], "failed")
    assert failed["error"]["code"] == "instrument_declined"
    assert failed["error"]["gateway_code"] == "INSTRUMENT_DECLINED"
    [call] = await paypal.emulator.calls("capture_order")
    assert call["status"] == 422
    [complete] = await operations(db, payment["id"], "complete")
    assert complete["status"] == "failed"
    await delivered(db, payment["id"], ["payment.failed"])


async def test_three_d_secure_redirect(factory, db, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(return_url=SHOP_RETURN)
    order_id = payment["gateway_transaction_id"]

    async with httpx.AsyncClient(timeout=30) as browser:
        chosen = await browser.post(
            f"{emulator.url}/checkoutnow", data={"token": order_id, "choice": "card_3ds"}
        )
        challenge = chosen.headers["location"]
        assert challenge == f"{emulator.url}/checkoutnow/3ds?token={order_id}"
        assert (await browser.get(challenge)).status_code == 200
        # Nothing is approved while the bank's challenge waits.
        assert (await paypal.emulator.order(order_id))["status"] == "CREATED"
        assert (await paypal.shop.get(payment["id"]))["status"] == "pending"
        failed = await browser.post(
            f"{emulator.url}/checkoutnow/3ds", data={"token": order_id, "choice": "3ds_failed"}
        )
        assert failed.headers["location"] == payment["next_action"]["url"]  # choose again
        await browser.post(
            f"{emulator.url}/checkoutnow", data={"token": order_id, "choice": "card_3ds"}
        )
        passed = await browser.post(
            f"{emulator.url}/checkoutnow/3ds", data={"token": order_id, "choice": "3ds_passed"}
        )
        at_shop = await _follow(browser, passed)

    assert at_shop.headers["location"].startswith(SHOP_RETURN + "&payment_id=")
    captured = await paypal.status(payment["id"], "captured")
    assert captured["captured_amount"] == "100.00"
    assert len(await paypal.emulator.events("CHECKOUT.ORDER.APPROVED")) == 1
    await delivered(db, payment["id"], ["payment.captured"])


async def test_the_buyer_cancels_then_approves_later(factory, db, emulator, receiver):
    """Back through the cancel URL first: payrelay asks PayPal to complete, PayPal says the order
    is not approved, nothing changes; the later approval completes it."""
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created()
    order_id = payment["gateway_transaction_id"]
    async with httpx.AsyncClient(timeout=30) as browser:
        cancelled = await browser.post(
            f"{emulator.url}/checkoutnow", data={"token": order_id, "choice": "cancel"}
        )
        back = await browser.get(cancelled.headers["location"])
    assert back.status_code == 200  # no merchant return_url: payrelay's own page
    assert "pending" in back.text
    [complete] = await operations(db, payment["id"], "complete")
    assert complete["status"] == "pending"  # not done: sent again on the next trigger
    assert (await paypal.shop.get(payment["id"]))["status"] == "pending"
    await _age_completion(db, payment["id"])

    await paypal.approve(payment)

    await paypal.status(payment["id"], "captured")
    calls = await paypal.emulator.calls("capture_order")
    assert [c["status"] for c in calls] == [422, 201]
    assert calls[0]["request_id"] == calls[1]["request_id"]  # the same completion, resent
    await delivered(db, payment["id"], ["payment.captured"])


async def _age_completion(db, payment_id: str) -> None:
    """As if the refused completion happened over a minute ago (it is no longer in flight)."""
    from tests.idempotency.helpers import execute

    await execute(
        db,
        "UPDATE payment_operations SET updated_at = now() - interval '2 minutes' "
        "WHERE kind = 'complete' AND payment_transaction_id = "
        "(SELECT id FROM payment_transactions WHERE payment_request_id = :p)",
        p=payment_id,
    )


@pytest.mark.parametrize("currency", ["RSD", "VND"])
async def test_currencies_paypal_does_not_take_are_refused_before_any_call(
    factory, emulator, currency
):
    paypal = await paypal_shop(factory, emulator.url)
    refused = await paypal.create(currency=currency, amount="1000")
    assert refused.status_code == 422, refused.text
    assert error_code(refused) == "unsupported_currency"
    assert "USD" in refused.json()["error"]["details"]["accepted"]
    assert await paypal.emulator.calls("create") == []


async def test_whole_amount_currencies(factory, emulator):
    paypal = await paypal_shop(factory, emulator.url)
    payment = await paypal.created(currency="JPY", amount="1500")
    [create] = await paypal.emulator.calls("create")
    assert create["request"]["purchase_units"][0]["amount"] == {
        "currency_code": "JPY",
        "value": "1500",
    }
    assert payment["status"] == "pending"
