"""SePay end to end over real HTTP: payrelay (API + worker) with a SePay account pointed at the
emulator, which sends its webhooks to payrelay and serves the transactions API; every flow ends
with the merchant's callback delivered."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from payrelay.callback.tasks import deliver_due
from payrelay.connectors.sepay.transformers import payment_code
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.ids import new_id
from payrelay.payment.tasks import expire_due, janitor
from tests import inbox
from tests.connectors.sepay.helpers import (
    API_KEY,
    API_TOKEN,
    BANK_ACCOUNT,
    HMAC_SECRET,
    body_of,
    delivered,
    later,
)


def code_of(payment: dict) -> str:
    code: str = payment["next_action"]["transfer_content"]
    return code


async def test_an_exact_transfer_captures_the_payment(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)
    assert payment["status"] == "pending"
    assert payment["gateway"] == "sepay"
    assert payment["payment_method"] == "bank_transfer"
    assert payment["gateway_transaction_id"] == code
    action = payment["next_action"]
    assert action["type"] == "bank_transfer"
    assert action["account_number"] == BANK_ACCOUNT
    assert action["bank_code"] == "Vietcombank"
    assert action["account_name"] == "CONG TY PAYRELAY"
    assert action["amount"] == "150000"
    assert action["currency"] == "VND"
    assert parse_qs(urlsplit(action["qr_url"]).query)["des"] == [code]

    view = await sepay.paid(f"NGUYEN VAN A chuyen khoan {code}", 150000)

    [attempt] = view["delivery"]["attempts"]
    assert attempt["status_code"] == 200
    assert json.loads(attempt["response"]) == {"success": True}
    assert view["payload"]["code"] == code  # SePay recognized it with the PR template
    paid = await sepay.shop.get(payment["id"])
    assert paid["status"] == "captured"
    assert paid["captured_amount"] == "150000"
    assert paid["received_amount"] == "150000"
    assert paid["overpaid_amount"] == "0"
    assert paid["next_action"] is None
    [row] = await sepay.webhooks()
    assert row["webhook_id"] == str(view["id"])
    assert row["status"] == "processed"
    assert row["headers"]["authorization"] == "[redacted]"
    [callback] = await delivered(db, payment["id"], "payment.captured")
    assert callback["data"]["status"] == "captured"
    assert callback["data"]["received_amount"] == "150000"


async def test_split_transfers_add_up_to_a_capture(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)

    await sepay.paid(f"{code} lan 1", 100000)
    partly = await sepay.shop.get(payment["id"])
    assert partly["status"] == "pending"
    assert partly["received_amount"] == "100000"
    assert partly["captured_amount"] == "0"
    assert "payment.funds_received" in await sepay.event_types(payment["id"])
    # The part-payment moved money: applied, not "ignored"; the customer still sees how to pay.
    assert [row["status"] for row in await sepay.webhooks()] == ["processed"]
    assert partly["next_action"] == payment["next_action"]

    await sepay.paid(f"{code} lan 2", 50000)
    paid = await sepay.shop.get(payment["id"])
    assert paid["status"] == "captured"
    assert paid["received_amount"] == "150000"
    assert paid["captured_amount"] == "150000"
    [callback] = await delivered(db, payment["id"], "payment.captured")
    assert callback["data"]["received_amount"] == "150000"


async def test_an_overpayment_captures_and_records_what_came_on_top(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)

    await sepay.paid(code, 200000)
    paid = await sepay.shop.get(payment["id"])
    assert paid["status"] == "captured"
    assert paid["captured_amount"] == "150000"
    assert paid["received_amount"] == "200000"
    assert paid["overpaid_amount"] == "50000"

    await sepay.paid(f"them {code}", 10000)  # more money after the capture
    more = await sepay.shop.get(payment["id"])
    assert more["status"] == "captured"
    assert more["received_amount"] == "210000"
    assert more["overpaid_amount"] == "60000"
    events = await sepay.shop.events(payment["id"])
    [overpaid] = [e for e in events if e["event_type"] == "payment.overpaid"]
    assert overpaid["data"]["receipt_amount"] == "10000"
    [callback] = await delivered(db, payment["id"], "payment.captured")
    assert callback["data"]["overpaid_amount"] == "50000"


async def test_an_underpayment_stays_pending_and_expires_with_what_was_received(
    sepay, db, settings, gateway_http
):
    payment = await sepay.created(amount="150000", expires_in=60)
    await sepay.paid(code_of(payment), 100000)
    partly = await sepay.shop.get(payment["id"])
    assert partly["status"] == "pending"
    assert partly["received_amount"] == "100000"

    # Expiry asks the transactions API first: it lists the transfer already applied.
    clock = later(seconds=61)
    await expire_due(sepay.db, gateway_http, settings, clock)
    await deliver_due(sepay.db, gateway_http, settings, clock)  # the callback is due then too

    expired = await sepay.shop.get(payment["id"])
    assert expired["status"] == "expired"
    assert expired["received_amount"] == "100000"
    assert expired["captured_amount"] == "0"
    assert len(await sepay.webhooks()) == 1  # the listed transfer was a duplicate
    [callback] = await delivered(db, payment["id"], "payment.expired")
    assert callback["data"]["received_amount"] == "100000"


async def test_a_code_with_spaces_lower_case_and_bank_text_around_it_is_found(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)
    mangled = f"{code[:8].lower()} {code[8:15]} {code[15:].lower()}"
    content = (
        f"MBVCB.13818942280.6106{mangled}.CT tu 0531002582398 TRAN THUY OANH toi {BANK_ACCOUNT}"
    )

    view = await sepay.paid(content, 150000)

    assert view["payload"]["code"] != code  # SePay's own recognition missed it
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_a_wrong_api_key_is_refused_changes_nothing_and_the_replay_is_applied(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)
    await sepay.emulate(api_key="not-the-key-configured")

    refused = await sepay.transfer(code, 150000)

    delivery = refused["delivery"]
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 8  # SePay retried on its schedule
    for attempt in delivery["attempts"]:
        assert attempt["status_code"] == 401
        assert json.loads(attempt["response"]) == {"success": False, "message": "Unauthorized"}
    rows = await sepay.webhooks()
    assert [row["status"] for row in rows] == ["rejected"] * 8
    assert all(row["webhook_id"] is None for row in rows)
    async with db.session() as session:
        kept = await session.execute(
            text(
                "SELECT signature, headers::text FROM payment_webhooks "
                "WHERE gateway_account_id = :a"
            ),
            {"a": sepay.account_id},
        )
        stored = " ".join(str(value) for row in kept.all() for value in row)
    assert "not-the-key-configured" not in stored  # a credential, even a wrong one, is not kept
    untouched = await sepay.shop.get(payment["id"])
    assert untouched["status"] == "pending"
    assert untouched["received_amount"] == "0"

    await sepay.emulate(api_key=API_KEY)  # the merchant fixes the key, then replays in SePay
    replayed = await sepay.replay(refused["id"])
    assert replayed["delivery"]["status"] == "delivered"
    await inbox.drained(sepay.account_id)
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_a_webhook_sent_twice_counts_once(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)
    first = await sepay.paid(code, 100000)

    again = await sepay.replay(first["id"])

    [attempt] = [a for a in again["delivery"]["attempts"] if a["manual"]]
    assert attempt["status_code"] == 200
    assert json.loads(attempt["response"]) == {"success": True}
    await inbox.drained(sepay.account_id)
    once = await sepay.shop.get(payment["id"])
    assert once["status"] == "pending"  # 2 × 100,000 would have captured it
    assert once["received_amount"] == "100000"
    assert [row["webhook_id"] for row in await sepay.webhooks()] == [str(first["id"])]

    await sepay.paid(code, 50000)
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_a_transfer_after_expiry_is_recorded_as_late_funds(sepay, db, settings, gateway_http):
    payment = await sepay.created(amount="150000", expires_in=60)
    clock = later(seconds=61)
    await expire_due(sepay.db, gateway_http, settings, clock)
    await deliver_due(sepay.db, gateway_http, settings, clock)
    assert (await sepay.shop.get(payment["id"]))["status"] == "expired"
    await delivered(db, payment["id"], "payment.expired")

    late_transfer = await sepay.paid(code_of(payment), 150000)

    late = await sepay.shop.get(payment["id"])
    assert late["status"] == "expired"
    assert late["received_amount"] == "150000"
    assert late["captured_amount"] == "0"
    events = await sepay.shop.events(payment["id"])
    [flag] = [e for e in events if e["event_type"] == "payment.late_funds"]
    assert flag["data"]["received_amount"] == "150000"
    [row] = await sepay.webhooks()
    assert row["webhook_id"] == str(late_transfer["id"])
    await delivered(db, payment["id"], "payment.expired")  # nothing more is sent


async def test_unmatched_transfers_are_acknowledged_and_stored_as_ignored(sepay, db):
    payment = await sepay.created(amount="150000")
    no_code = await sepay.paid("chuyen tien mua iphone", 2277000)
    unknown_code = await sepay.paid(f"thanh toan {payment_code('PR', new_id())}", 150000)
    for view in (no_code, unknown_code):
        [attempt] = view["delivery"]["attempts"]
        assert (attempt["status_code"], json.loads(attempt["response"])) == (
            200,
            {"success": True},
        )
    rows = await sepay.webhooks()
    assert [(row["webhook_id"], row["status"], row["error"]) for row in rows] == [
        (str(no_code["id"]), "ignored", "no payment matches this event"),
        (str(unknown_code["id"]), "ignored", "no payment matches this event"),
    ]
    assert body_of(rows[0])["content"] == "chuyen tien mua iphone"  # kept for an operator
    assert (await sepay.shop.get(payment["id"]))["received_amount"] == "0"

    await sepay.paid(code_of(payment), 150000)
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_an_outgoing_transfer_is_acknowledged_and_ignored(sepay, db):
    payment = await sepay.created(amount="150000")
    code = code_of(payment)

    out = await sepay.paid(f"hoan tien {code}", 150000, transfer_type="out")

    assert out["delivery"]["attempts"][0]["status_code"] == 200
    [row] = await sepay.webhooks()
    assert (row["event_type"], row["status"], row["error"]) == (
        "transfer.out",
        "ignored",
        "no payment matches this event",
    )
    pending = await sepay.shop.get(payment["id"])
    assert pending["status"] == "pending"
    assert pending["received_amount"] == "0"

    await sepay.paid(code, 150000)
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_the_janitor_finds_a_missed_webhook_through_the_transactions_api(
    sepay, db, settings, gateway_http
):
    payment = await sepay.created(amount="150000")
    missed = await sepay.transfer(code_of(payment), 150000, deliver=False)
    assert missed["delivery"]["status"] == "not_sent"
    await janitor(sepay.db, gateway_http, settings, later(minutes=5))  # too young to ask about
    assert await sepay.webhooks() == []

    await janitor(sepay.db, gateway_http, settings, later(minutes=11))
    await inbox.drained(sepay.account_id)

    found = await sepay.shop.get(payment["id"])
    assert found["status"] == "captured"
    assert found["received_amount"] == "150000"
    [row] = await sepay.webhooks()
    assert row["webhook_id"] == str(missed["id"])
    assert row["headers"] == {"x-payrelay-source": "status-query"}
    assert body_of(row)["transferAmount"] == 150000
    await delivered(db, payment["id"], "payment.captured")

    # SePay's webhook finally arrives (a manual replay): the same transfer, not new money.
    late = await sepay.replay(missed["id"])
    assert late["delivery"]["status"] == "delivered"
    await inbox.drained(sepay.account_id)
    assert len(await sepay.webhooks()) == 1
    assert (await sepay.shop.get(payment["id"]))["received_amount"] == "150000"


async def test_expiry_applies_a_missed_transfer_instead_of_expiring(
    sepay, db, settings, gateway_http
):
    payment = await sepay.created(amount="150000", expires_in=60)
    await sepay.transfer(f"ck {code_of(payment)}", 150000, deliver=False)

    await expire_due(sepay.db, gateway_http, settings, later(seconds=61))
    await inbox.drained(sepay.account_id)

    paid = await sepay.shop.get(payment["id"])
    assert paid["status"] == "captured"
    await expire_due(sepay.db, gateway_http, settings, later(seconds=62))
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], "payment.captured")


async def test_expiry_waits_while_the_transactions_api_cannot_be_asked(
    sepay, db, settings, gateway_http
):
    payment = await sepay.created(amount="150000", expires_in=60)
    await sepay.emulate(api_token="rotated-token-the-account-does-not-know")

    await expire_due(sepay.db, gateway_http, settings, later(seconds=61))
    assert (await sepay.shop.get(payment["id"]))["status"] == "pending"  # never blind

    await sepay.emulate(api_token=API_TOKEN)
    clock = later(seconds=61)
    await expire_due(sepay.db, gateway_http, settings, clock)
    await deliver_due(sepay.db, gateway_http, settings, clock)
    assert (await sepay.shop.get(payment["id"]))["status"] == "expired"
    await delivered(db, payment["id"], "payment.expired")


async def test_capture_void_and_gateway_refunds_are_unsupported(sepay, db):
    manual = await sepay.shop.create(gateway="sepay", capture_method="manual")
    assert manual.status_code == 422
    assert manual.json()["error"]["code"] == "unsupported_by_gateway"
    dollars = await sepay.shop.create(gateway="sepay", currency="USD", amount="10.00")
    assert dollars.status_code == 422
    assert dollars.json()["error"]["code"] == "unsupported_currency"

    payment = await sepay.created(amount="150000")
    for action in ("capture", "void"):
        response = await sepay.shop.command(payment["id"], action)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "unsupported_by_gateway"
    await sepay.paid(code_of(payment), 150000)
    for body in ({}, {"amount": "50000"}):
        response = await sepay.shop.command(payment["id"], "refund", body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "unsupported_by_gateway"
    captured = await sepay.shop.get(payment["id"])
    assert captured["status"] == "captured"
    assert captured["refunded_amount"] == "0"
    types = await sepay.event_types(payment["id"])
    assert not [t for t in types if t.endswith(".requested")]  # nothing was recorded
    await delivered(db, payment["id"], "payment.captured")


async def test_a_refund_made_outside_payrelay_is_recorded(sepay, db):
    payment = await sepay.created(amount="150000")
    await sepay.paid(code_of(payment), 150000)

    part = await sepay.shop.command(
        payment["id"], "refund", {"amount": "50000", "external": True, "reason": "bank transfer"}
    )
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "partially_refunded"
    rest = await sepay.shop.command(payment["id"], "refund", {"external": True})
    assert rest.status_code == 200, rest.text

    refunded = await sepay.shop.get(payment["id"])
    assert refunded["status"] == "refunded"
    assert refunded["refunded_amount"] == "150000"
    payloads = await delivered(
        db, payment["id"], "payment.captured", "payment.refunded", "payment.refunded"
    )
    assert payloads[-1]["data"]["status"] == "refunded"


async def test_hmac_signed_webhooks(sepay, db):
    async with db.transaction() as session:  # the other keys are kept
        await gateway_account_service.set_account(
            session,
            merchant_id=sepay.shop.id,
            code="sepay",
            config={"webhook_auth": "hmac", "base_url": sepay.emulator_url},
        )
    await sepay.emulate(auth="hmac", hmac_secret="not-the-secret", retry=False)
    payment = await sepay.created(amount="150000")
    code = code_of(payment)

    refused = await sepay.transfer(code, 150000)
    assert {a["status_code"] for a in refused["delivery"]["attempts"]} == {401}
    assert (await sepay.shop.get(payment["id"]))["status"] == "pending"

    await sepay.emulate(hmac_secret=HMAC_SECRET)
    await sepay.replay(refused["id"])
    await inbox.drained(sepay.account_id)
    assert (await sepay.shop.get(payment["id"]))["status"] == "captured"
    rows = await sepay.webhooks()
    assert rows[-1]["headers"]["x-sepay-signature"] == "[redacted]"
    await delivered(db, payment["id"], "payment.captured")
