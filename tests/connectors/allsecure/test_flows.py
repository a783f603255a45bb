"""payrelay and the AllSecure emulator over real HTTP: sale, authorize/capture/refund, void,
declines and 3-D Secure, in RSD and EUR; each flow ends with the merchant's callback delivered."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests import inbox
from tests.connectors.allsecure.helpers import API_KEY, delivered
from tests.idempotency.helpers import create_operation, error_code, operations, rows


async def transaction_row(db, payment_id: str) -> dict:
    [row] = await rows(
        db,
        "SELECT gateway_status, gateway_transaction_id, gateway_reference_id, gateway_response, "
        "error_details FROM payment_transactions WHERE payment_request_id = :p",
        p=payment_id,
    )
    return row


async def test_one_step_sale_through_the_payment_page(allsecure, db, settings, emulator):
    payment = await allsecure.created(
        amount="1250.50", description="Oglas #7", return_url="https://shop.example/done"
    )

    assert payment["status"] == "pending"
    assert payment["gateway_status"] == "REDIRECT"
    page = payment["next_action"]["url"]
    uuid = payment["gateway_transaction_id"]
    assert payment["next_action"]["type"] == "redirect"
    assert page.startswith(f"{emulator.url}/redirect/{uuid}/")
    [call] = await allsecure.emulator.calls("debit")
    sent = call["request"]
    create = await create_operation(db, payment["id"])
    return_url = f"{settings.public_url}/return/allsecure/{allsecure.account_id}/{payment['id']}"
    assert call["path"] == f"/api/v3/transaction/{API_KEY}/debit"
    assert sent["merchantTransactionId"] == create["gateway_idempotency_key"]
    assert (sent["amount"], sent["currency"]) == ("1250.50", "RSD")
    assert sent["successUrl"] == sent["cancelUrl"] == sent["errorUrl"] == return_url
    assert sent["callbackUrl"] == allsecure.webhook_url
    assert sent["description"] == "Oglas #7"
    assert sent["merchantMetaData"] == f"payrelay:{payment['id']}"

    async with httpx.AsyncClient() as browser:  # the customer pays on AllSecure's page
        shown = await browser.get(page)
        assert shown.status_code == 200
        assert "Card payment" in shown.text
        paid = await browser.post(page, data={"outcome": "approve"})
        assert paid.status_code == 303
        assert paid.headers["location"] == return_url
        await inbox.drained(allsecure.account_id)
        back = await browser.get(return_url)  # payrelay forwards the customer to the shop
        assert back.status_code == 303
        assert back.headers["location"].startswith("https://shop.example/done?")

    captured = await allsecure.shop.get(payment["id"])
    assert captured["status"] == "captured"
    assert captured["captured_amount"] == "1250.50"
    assert captured["gateway_status"] == "SUCCESSFUL"
    assert captured["next_action"] is None
    [callback] = (await allsecure.emulator.transaction(uuid))["callbacks"]
    assert callback["attempts"] == [{"status": 200, "body": "OK"}]  # AllSecure's acknowledgement
    stored = await transaction_row(db, payment["id"])
    assert stored["gateway_transaction_id"] == uuid
    assert stored["gateway_reference_id"] == callback["body"]["purchaseId"]
    assert stored["gateway_reference_id"].endswith(f"-{uuid}")
    await delivered(db, payment["id"], ["payment.captured"])


async def test_preauthorize_partial_capture_and_two_partial_refunds_in_eur(allsecure, db):
    payment = await allsecure.created(capture_method="manual", currency="EUR", amount="100.00")
    [preauthorize] = await allsecure.emulator.calls("preauthorize")
    assert (preauthorize["request"]["amount"], preauthorize["request"]["currency"]) == (
        "100.00",
        "EUR",
    )
    await allsecure.pay(payment)
    assert (await allsecure.shop.get(payment["id"]))["status"] == "authorized"

    captured = await allsecure.shop.command(payment["id"], "capture", {"amount": "60.00"})
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["captured_amount"]) == ("captured", "60.00")
    first = await allsecure.shop.command(payment["id"], "refund", {"amount": "20.00"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_refunded"
    second = await allsecure.shop.command(
        payment["id"], "refund", {"amount": "40.00", "reason": "vraćeno"}
    )
    assert second.status_code == 200, second.text
    assert (second.json()["status"], second.json()["refunded_amount"]) == ("refunded", "60.00")

    [capture] = await allsecure.emulator.transactions("CAPTURE")
    refunds = await allsecure.emulator.transactions("REFUND")
    keys = [op["gateway_idempotency_key"] for op in await operations(db, payment["id"])]
    assert capture["referenceUuid"] == payment["gateway_transaction_id"]
    assert (capture["amount"], capture["merchantTransactionId"]) == ("60.00", keys[1])
    assert [(r["referenceUuid"], r["amount"]) for r in refunds] == [
        (capture["uuid"], "20.00"),
        (capture["uuid"], "40.00"),
    ]
    assert [r["merchantTransactionId"] for r in refunds] == keys[2:]
    sent = [call["request"] for call in await allsecure.emulator.calls("refund")]
    assert [body.get("description") for body in sent] == [None, "vraćeno"]
    more = await allsecure.shop.command(payment["id"], "refund", {"amount": "0.01"})
    assert more.status_code == 409, more.text  # nothing left to refund
    await delivered(
        db,
        payment["id"],
        ["payment.authorized", "payment.captured", "payment.refunded", "payment.refunded"],
    )


async def test_preauthorize_then_void(allsecure, db):
    payment = await allsecure.authorized(amount="5000.00")

    voided = await allsecure.shop.command(payment["id"], "void", {"reason": "nema na stanju"})

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    [void] = await allsecure.emulator.transactions("VOID")
    assert void["referenceUuid"] == payment["gateway_transaction_id"]
    [call] = await allsecure.emulator.calls("void")
    assert call["request"]["description"] == "nema na stanju"
    assert "amount" not in call["request"]  # the whole authorization
    preauthorization = await allsecure.emulator.transaction(payment["gateway_transaction_id"])
    assert preauthorization["voided"] is True
    refused = await allsecure.shop.command(payment["id"], "capture")
    assert refused.status_code == 409  # voided: nothing left to capture
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_a_decline_at_once_fills_error_details(allsecure, db):
    await allsecure.emulator.next(
        "decline", error_code=2006, adapter_code="51", adapter_message="Insufficient funds"
    )

    payment = await allsecure.created()

    assert payment["status"] == "failed"
    assert payment["gateway_status"] == "ERROR"
    assert payment["error"] == {
        "code": "insufficient_funds",
        "message": "Insufficient funds",
        "gateway_code": "2006",
    }
    details = (await transaction_row(db, payment["id"]))["error_details"]
    assert details.pop("timestamp")
    assert details == {
        "code": "insufficient_funds",
        "message": "Insufficient funds",
        "gateway_code": "2006",
        "gateway_message": "Insufficient funds (acquirer 51: Insufficient funds)",
    }
    await allsecure.emulator.called_back(payment["gateway_transaction_id"])
    await inbox.drained(allsecure.account_id)  # the ERROR callback changes nothing more
    assert (await allsecure.shop.get(payment["id"]))["error"] == payment["error"]
    await delivered(db, payment["id"], ["payment.failed"])


@pytest.mark.parametrize(
    ("outcome", "extra", "code", "gateway_code"),
    [
        ("decline", {}, "card_declined", "2003"),
        ("decline", {"error_code": 2009}, "expired_card", "2009"),
        ("cancel", {}, "customer_cancelled", "2002"),
    ],
)
async def test_a_decline_on_the_payment_page(allsecure, db, outcome, extra, code, gateway_code):
    payment = await allsecure.created()

    await allsecure.pay(payment, outcome, **extra)

    failed = await allsecure.shop.get(payment["id"])
    assert failed["status"] == "failed"
    assert failed["gateway_status"] == "ERROR"
    assert (failed["error"]["code"], failed["error"]["gateway_code"]) == (code, gateway_code)
    details = (await transaction_row(db, payment["id"]))["error_details"]
    assert details["gateway_message"]
    await delivered(db, payment["id"], ["payment.failed"])


async def test_three_d_secure_redirect(allsecure, db, emulator):
    await allsecure.emulator.next("redirect", three_d_secure=True)
    payment = await allsecure.created(amount="8999.99")
    page = payment["next_action"]["url"]
    assert urlsplit(page).path.startswith(f"/redirect/{payment['gateway_transaction_id']}/")

    async with httpx.AsyncClient() as browser:
        challenge = await browser.get(page)
        assert "3-D Secure verification" in challenge.text
        done = await browser.post(page, data={"outcome": "approve"})
        assert done.status_code == 303
    await inbox.drained(allsecure.account_id)

    captured = await allsecure.shop.get(payment["id"])
    assert (captured["status"], captured["captured_amount"]) == ("captured", "8999.99")
    uuid = payment["gateway_transaction_id"]
    [callback] = (await allsecure.emulator.transaction(uuid))["callbacks"]
    assert callback["body"]["returnData"]["threeDSecure"] == "MANDATORY"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_failed_three_d_secure_verification(allsecure, db):
    await allsecure.emulator.next("redirect", three_d_secure=True)
    payment = await allsecure.created()
    await allsecure.pay(payment, "decline")
    failed = await allsecure.shop.get(payment["id"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "authentication_failed")
    assert failed["error"]["gateway_code"] == "2021"
    await delivered(db, payment["id"], ["payment.failed"])


@pytest.mark.parametrize(
    ("currency", "amount", "sent"),
    [("RSD", "150000", "150000.00"), ("RSD", "0.5", "0.50"), ("EUR", "9.99", "9.99")],
)
async def test_amounts_are_exact_decimal_strings(allsecure, db, currency, amount, sent):
    await allsecure.emulator.next("approve")
    payment = await allsecure.created(currency=currency, amount=amount)
    [call] = await allsecure.emulator.calls("debit")
    assert (call["request"]["amount"], call["request"]["currency"]) == (sent, currency)
    assert payment["status"] == "captured"  # FINISHED at once (a stored card, say)
    assert payment["captured_amount"] == sent
    await inbox.drained(allsecure.account_id)
    await delivered(db, payment["id"], ["payment.captured"])


async def test_other_currencies_are_refused_before_any_call(allsecure):
    refused = await allsecure.create(currency="USD", amount="10.00")
    assert refused.status_code == 422, refused.text
    assert error_code(refused) == "unsupported_currency"
    assert await allsecure.emulator.calls() == []
