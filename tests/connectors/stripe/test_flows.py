"""payrelay and the Stripe emulator over real HTTP: sale, authorization with partial capture and
partial refunds, void, decline, 3-D Secure; each flow ends with the merchant's callback
delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from payrelay.payment.tasks import expire_due
from tests import inbox
from tests.callback.receiver import Receiver
from tests.connectors.stripe.helpers import (
    DECLINED,
    INSUFFICIENT_FUNDS,
    THREE_D_SECURE,
    VISA,
    delivered,
    release_callbacks,
    run_janitor,
    stripe_shop,
)
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import create_operation, operations, webhook_rows


@pytest.fixture(scope="module")
def emulator():
    with RunningEmulator("stripe") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def test_one_step_sale(factory, db, settings, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)

    payment = await stripe.created(
        amount="150.00",
        description="Two  books",
        customer_email="buyer@example.com",
        return_url="https://shop.example/return",
    )

    assert payment["status"] == "pending"
    assert payment["payment_method"] == "card"
    assert payment["gateway_transaction_id"].startswith("cs_test_")
    assert payment["next_action"] == {
        "type": "redirect",
        "url": f"{emulator.url}/c/pay/{payment['gateway_transaction_id']}",
    }
    [call] = await stripe.calls("create_session")
    operation = await create_operation(db, payment["id"])
    assert call["idempotency_key"] == operation["gateway_idempotency_key"]
    assert call["idempotency_key"] == f"payrelay-{operation['id']}"
    sent = call["params"]
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "usd",
                "unit_amount": "15000",
                "product_data": {"name": "Two books"},
            },
        }
    ]
    assert sent["payment_intent_data"]["capture_method"] == "automatic"
    assert sent["payment_intent_data"]["metadata"]["payrelay_payment_id"] == payment["id"]
    assert sent["metadata"]["payrelay_payment_id"] == payment["id"]
    assert sent["customer_email"] == "buyer@example.com"
    return_url = f"{settings.public_url}/return/stripe/{stripe.account_id}/{payment['id']}"
    assert sent["success_url"] == sent["cancel_url"] == return_url

    paid = await stripe.pay(payment)

    assert paid["status"] == "succeeded"
    assert paid["redirect"] == return_url
    captured = await stripe.shop.get(payment["id"])
    assert captured["status"] == "captured"
    assert captured["captured_amount"] == "150.00"
    assert captured["next_action"] is None
    stored = await webhook_rows(db, stripe.account_id)
    assert sorted(row["event_type"] for row in stored) == [
        "checkout.session.completed",  # each says the money is taken: the first one counts
        "payment_intent.succeeded",
    ]
    assert sorted(row["status"] for row in stored) == ["ignored", "processed"]
    await delivered(db, payment["id"], ["payment.captured"])


async def test_authorize_partial_capture_and_two_partial_refunds(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual", amount="100.00")
    [call] = await stripe.calls("create_session")
    assert call["params"]["payment_intent_data"]["capture_method"] == "manual"

    await stripe.pay(payment)

    authorized = await stripe.shop.get(payment["id"])
    assert authorized["status"] == "authorized"
    assert authorized["authorized_amount"] == "100.00"

    captured = await stripe.shop.command(payment["id"], "capture", {"amount": "80.00"})

    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured"
    assert captured.json()["captured_amount"] == "80.00"
    [capture_op] = await operations(db, payment["id"], "capture")
    [capture] = await stripe.calls("capture")
    assert capture["idempotency_key"] == capture_op["gateway_idempotency_key"]
    assert capture["params"]["amount_to_capture"] == "8000"
    intent = await stripe.intent(payment)
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 8000)

    first = await stripe.shop.command(payment["id"], "refund", {"amount": "30.00", "reason": "一"})
    second = await stripe.shop.command(payment["id"], "refund", {"amount": "50.00"})

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_refunded"
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "refunded"
    assert second.json()["refunded_amount"] == "80.00"
    refund_ops = await operations(db, payment["id"], "refund")
    sent = await stripe.calls("create_refund")
    assert [c["idempotency_key"] for c in sent] == [
        op["gateway_idempotency_key"] for op in refund_ops
    ]
    assert [c["params"]["amount"] for c in sent] == ["3000", "5000"]
    assert [c["params"]["payment_intent"] for c in sent] == [intent["id"]] * 2
    assert sent[0]["params"]["metadata"]["payrelay_reason"] == "一"
    assert sent[0]["params"]["metadata"]["payrelay_payment_id"] == payment["id"]
    more = await stripe.shop.command(payment["id"], "refund", {"amount": "1.00"})
    assert more.status_code == 409, more.text  # nothing left: refused before Stripe is asked
    assert len(await stripe.calls("create_refund")) == 2
    await delivered(
        db,
        payment["id"],
        ["payment.authorized", "payment.captured", "payment.refunded", "payment.refunded"],
    )


async def test_authorize_then_void(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    await stripe.pay(payment)

    voided = await stripe.shop.command(payment["id"], "void", {"reason": "out of stock"})

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    [void_op] = await operations(db, payment["id"], "void")
    [mark] = await stripe.calls("update_intent")
    [cancel] = await stripe.calls("cancel")
    assert cancel["idempotency_key"] == void_op["gateway_idempotency_key"]
    assert mark["idempotency_key"] == f"{void_op['gateway_idempotency_key']}-mark"
    intent = await stripe.intent(payment)
    assert intent["status"] == "canceled"
    assert intent["metadata"]["payrelay_void"] == void_op["gateway_idempotency_key"]
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_a_declined_card_leaves_the_session_open_and_another_card_pays(
    factory, db, emulator, receiver
):
    """Checkout lets the customer try again after a decline: it is not the payment's end."""
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created()

    declined = await stripe.pay(payment, DECLINED)

    assert declined["status"] == "declined"
    pending = await stripe.shop.get(payment["id"])
    assert pending["status"] == "pending"
    assert pending["gateway_status"] == "requires_payment_method"
    assert pending["next_action"]["type"] == "redirect"

    await stripe.pay(payment, VISA)

    assert (await stripe.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_decline_then_the_session_expires(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created()
    await stripe.pay(payment, DECLINED)

    session_id = payment["gateway_transaction_id"]
    await stripe.emulator.control("POST", f"checkout/{session_id}/expire")  # 24 h later
    await inbox.drained(stripe.account_id)

    failed = await stripe.shop.get(payment["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "payment_failed"
    await delivered(db, payment["id"], ["payment.failed"])


async def test_a_decline_found_by_the_status_query_keeps_the_card_reason(
    factory, db, settings, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created()
    await stripe.pay(payment, INSUFFICIENT_FUNDS, notify=False)
    await stripe.emulator.control(
        "POST", f"checkout/{payment['gateway_transaction_id']}/expire", {"notify": False}
    )

    async with httpx.AsyncClient(timeout=3) as gateway_http:
        await run_janitor(db, gateway_http, settings, stripe.shop.id)

    failed = await stripe.shop.get(payment["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "insufficient_funds"
    assert failed["error"]["gateway_code"] == "card_declined"
    await delivered(db, payment["id"], ["payment.failed"])


async def test_three_d_secure_redirect(factory, db, settings, emulator, receiver):
    """The customer's browser, step by step: Stripe's page, the 3-D Secure challenge, back to
    payrelay, on to the merchant."""
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(return_url="https://shop.example/done?cart=7")
    checkout_url = payment["next_action"]["url"]

    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(checkout_url)
        assert page.status_code == 200
        assert "150.00 USD" in page.text
        challenge = await browser.post(checkout_url, data={"card": THREE_D_SECURE})
        assert challenge.status_code == 303
        assert challenge.headers["location"].startswith(f"{emulator.url}/3ds/pi_")
        intent = await stripe.intent(payment)
        assert intent["status"] == "requires_action"
        assert intent["next_action"]["type"] == "redirect_to_url"
        assert (await browser.get(challenge.headers["location"])).status_code == 200
        assert (await stripe.shop.get(payment["id"]))["status"] == "pending"

        back = await browser.post(challenge.headers["location"], data={"outcome": "complete"})

        assert back.status_code == 303
        return_url = back.headers["location"]
        assert (
            return_url == f"{settings.public_url}/return/stripe/{stripe.account_id}/{payment['id']}"
        )
        await inbox.drained(stripe.account_id)
        onward = await browser.get(return_url)

    assert onward.status_code == 303
    merchant = urlsplit(onward.headers["location"])
    assert (merchant.netloc, merchant.path) == ("shop.example", "/done")
    assert parse_qs(merchant.query) == {
        "cart": ["7"],
        "payment_id": [payment["id"]],
        "status": ["captured"],
    }
    assert (await stripe.shop.get(payment["id"]))["captured_amount"] == "150.00"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_failed_challenge_is_not_a_payment(factory, db, emulator, receiver):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(capture_method="manual")
    tried = await stripe.pay(payment, THREE_D_SECURE)
    assert tried["status"] == "requires_action"

    failed = await stripe.emulator.control(
        "POST", f"payment_intents/{tried['payment_intent']['id']}/authenticate", {"outcome": "fail"}
    )
    await inbox.drained(stripe.account_id)

    assert failed["payment_intent"]["last_payment_error"]["code"] == (
        "payment_intent_authentication_failure"
    )
    assert (await stripe.shop.get(payment["id"]))["status"] == "pending"
    await stripe.pay(payment, VISA)
    assert (await stripe.shop.get(payment["id"]))["status"] == "authorized"
    await delivered(db, payment["id"], ["payment.authorized"])


@pytest.mark.parametrize(
    ("currency", "amount", "minor", "shown"),
    [
        ("JPY", "1500", "1500", "1500"),
        ("KWD", "12.34", "12340", "12.340"),  # three decimals, the last one 0
        ("ISK", "500", "50000", "500"),  # whole krónur, sent as two-decimal
        ("MGA", "1500", "1500", "1500.00"),  # two decimals in ISO 4217, none at Stripe
    ],
)
async def test_amounts_follow_stripe_decimals(factory, emulator, currency, amount, minor, shown):
    stripe = await stripe_shop(factory, emulator.url)
    payment = await stripe.created(currency=currency, amount=amount, capture_method="manual")
    [call] = await stripe.calls("create_session")
    assert call["params"]["line_items"][0]["price_data"]["unit_amount"] == minor
    assert call["params"]["line_items"][0]["price_data"]["currency"] == currency.lower()
    await stripe.pay(payment)
    authorized = await stripe.shop.get(payment["id"])
    assert (authorized["status"], authorized["authorized_amount"]) == ("authorized", shown)


async def test_a_kwd_amount_stripe_cannot_take_fails_before_any_call(factory, emulator):
    stripe = await stripe_shop(factory, emulator.url)
    payment = await stripe.created(currency="KWD", amount="12.345")
    assert payment["status"] == "failed"
    assert payment["error"]["code"] == "amount_too_precise"
    assert await stripe.calls("create_session") == []


async def test_an_unpaid_payment_expires_and_its_session_is_expired(
    factory, db, settings, emulator, receiver
):
    stripe = await stripe_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await stripe.created(expires_in=60)
    moment = datetime.now(UTC) + timedelta(seconds=61)

    async with httpx.AsyncClient(timeout=3) as gateway_http:
        await expire_due(db, gateway_http, settings, lambda: moment)
    await release_callbacks(db, stripe.shop.id)

    expired = await stripe.shop.get(payment["id"])
    assert expired["status"] == "expired"
    session = await stripe.session(payment)
    assert session["status"] == "expired"  # nobody can pay it any more
    [expire] = await stripe.calls("expire_session")
    assert expire["idempotency_key"] == f"payrelay-expire-{payment['id']}"
    await delivered(db, payment["id"], ["payment.expired"])


@pytest.mark.parametrize("amount", ["0.49", "1000000.00"])
async def test_limits_are_checked_before_any_call(factory, emulator, amount):
    stripe = await stripe_shop(factory, emulator.url)
    refused = await stripe.create(amount=amount)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "amount_out_of_range"
    assert await stripe.calls("create_session") == []
