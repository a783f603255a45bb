"""What goes wrong with PayPal: webhooks duplicated, late, out of order, unverifiable or forged;
answers lost; tokens expired; authorizations left uncaptured. Money moves only on what PayPal
says; each flow ends with the merchant's callback delivered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from payrelay.payment.tasks import auto_void_due, janitor
from tests import inbox
from tests.callback.receiver import Receiver
from tests.connectors.paypal.helpers import delivered, paypal_shop, wait_for
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import error_code, execute, operations, rows, webhook_rows


@pytest.fixture
def emulator():
    with RunningEmulator("paypal") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


async def _move_outbox(db, merchant_id) -> None:
    """Callbacks queued on a clock ahead are due now, as if the time passed."""
    await execute(
        db,
        "UPDATE payment_callbacks SET next_retry_at = now() "
        "WHERE merchant_id = :m AND status = 'pending' AND next_retry_at > now()",
        m=merchant_id,
    )


async def test_duplicate_and_out_of_order_webhooks_change_nothing(
    factory, db, http, emulator, receiver
):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    await paypal.emulator.settings(hold_webhooks=True)  # PayPal is slow to notify
    payment = await paypal.created(capture_method="manual")
    await paypal.emulator.approve(payment["gateway_transaction_id"])
    # The buyer comes back: payrelay completes (authorizes) the order without any webhook.
    back = await http.get(f"/return/paypal/{paypal.account_id}/{payment['id']}")
    assert back.status_code == 200
    assert "authorized" in back.text
    captured = await paypal.shop.command(payment["id"], "capture")
    assert captured.status_code == 200, captured.text
    events = await paypal.emulator.events()
    assert [e["event_type"] for e in events] == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.AUTHORIZATION.CREATED",
        "PAYMENT.CAPTURE.COMPLETED",
    ]

    for event in [*reversed(events), *events]:  # newest first, then each again
        answer = await paypal.emulator.deliver(event["id"])
        assert [t["attempts"][-1] for t in answer["transmissions"]] == [{"status": 200}]
    await inbox.drained(paypal.account_id)

    after = await paypal.shop.get(payment["id"])
    assert (after["status"], after["captured_amount"]) == ("captured", "100.00")
    stored = await webhook_rows(db, paypal.account_id)
    assert sorted(row["event_type"] for row in stored) == sorted(e["event_type"] for e in events)
    assert {row["status"] for row in stored} == {"ignored"}  # stale or known: no change
    assert len(await paypal.emulator.calls("authorize_order")) == 1
    assert len(await operations(db, payment["id"], "complete")) == 1
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_capture_webhook_before_the_approval_webhook(factory, db, emulator, receiver):
    """PayPal's order of delivery is not guaranteed: the capture's webhook may come first."""
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    await paypal.emulator.settings(hold_webhooks=True)
    payment = await paypal.created()
    order_id = payment["gateway_transaction_id"]
    await paypal.emulator.approve(order_id)
    token = await paypal.emulator.token()
    captured = await paypal.emulator._call(  # another PayPal client (the merchant's own site)
        "POST",
        f"/v2/checkout/orders/{order_id}/capture",
        headers={"Authorization": f"Bearer {token}", "Prefer": "return=representation"},
        json={},
    )
    assert captured.status_code == 201, captured.text
    approved, completed = await paypal.emulator.events()

    await paypal.emulator.deliver(completed["id"])
    await inbox.drained(paypal.account_id)
    assert (await paypal.shop.get(payment["id"]))["status"] == "captured"
    await paypal.emulator.deliver(approved["id"])
    await inbox.drained(paypal.account_id)

    assert (await paypal.shop.get(payment["id"]))["status"] == "captured"
    assert await operations(db, payment["id"], "complete") == []
    assert len(await paypal.emulator.calls("capture_order")) == 1
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_capture_whose_answer_was_lost_is_resolved_by_the_janitor(
    factory, db, settings, gateway_http, emulator, receiver
):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual")
    await paypal.approve(payment)
    await paypal.status(payment["id"], "authorized")
    await paypal.emulator.settings(hold_webhooks=True)  # no webhook tells payrelay either
    await paypal.emulator.fault("capture", "hang")  # PayPal captures, the answer is lost

    lost = await paypal.shop.command(payment["id"], "capture", {"amount": "75.00"})

    assert lost.status_code == 504, lost.text
    assert error_code(lost) == "gateway_outcome_unknown"
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "unknown"
    await wait_for(lambda: paypal.emulator.calls("capture"))
    moment = datetime.now(UTC) + timedelta(minutes=11)
    await janitor(db, gateway_http, settings, lambda: moment)
    await _move_outbox(db, paypal.shop.id)

    resolved = await paypal.shop.get(payment["id"])
    assert (resolved["status"], resolved["captured_amount"]) == ("captured", "75.00")
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "succeeded"
    assert len(await paypal.emulator.calls("capture")) == 1  # read back, never sent again
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_an_authorization_not_captured_in_time_is_voided(
    factory, db, settings, gateway_http, emulator, receiver
):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual")
    await paypal.approve(payment)
    await paypal.status(payment["id"], "authorized")
    [row] = await rows(
        db,
        "SELECT authorized_at, authorization_expires_at FROM payment_transactions "
        "WHERE payment_request_id = :p",
        p=payment["id"],
    )
    assert row["authorization_expires_at"] - row["authorized_at"] == timedelta(days=3)

    moment = datetime.now(UTC) + timedelta(days=7)
    await auto_void_due(db, gateway_http, settings, lambda: moment)
    await _move_outbox(db, paypal.shop.id)

    voided = await paypal.shop.get(payment["id"])
    assert voided["status"] == "voided"
    [void] = await paypal.emulator.calls("void")
    assert void["status"] == 200
    order = await paypal.emulator.order(payment["gateway_transaction_id"])
    assert order["purchase_units"][0]["payments"]["authorizations"][0]["status"] == "VOIDED"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_a_webhook_paypal_does_not_verify_is_rejected_until_it_does(
    factory, db, emulator, receiver
):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created()
    await paypal.emulator.settings(verify_result="FAILURE")

    answer = await paypal.emulator.approve(payment["gateway_transaction_id"])

    [sent] = answer["webhooks"]
    assert sent["attempts"] == [{"status": 401}]  # PayPal will send it again
    assert sent["headers"]["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
    [verify] = await paypal.emulator.calls("verify")
    assert verify["answer"] == "FAILURE"
    [row] = await webhook_rows(db, paypal.account_id)
    assert row["status"] == "rejected"
    assert row["signature"] == sent["headers"]["PAYPAL-TRANSMISSION-SIG"]
    assert (await paypal.shop.get(payment["id"]))["status"] == "pending"

    await paypal.emulator.settings(verify_result="auto")
    [event] = await paypal.emulator.events("CHECKOUT.ORDER.APPROVED")
    resent = await paypal.emulator.api(
        "POST", f"/v1/notifications/webhooks-events/{event['id']}/resend"
    )
    assert resent.status_code == 202, resent.text
    assert resent.json()["transmissions"][0]["attempts"] == [{"status": 200}]

    await paypal.status(payment["id"], "captured")
    verdicts = [c["answer"] for c in await paypal.emulator.calls("verify")]
    assert verdicts[:2] == ["FAILURE", "SUCCESS"]  # then the capture's webhook: SUCCESS too
    await delivered(db, payment["id"], ["payment.captured"])


async def test_forged_webhooks_are_rejected(factory, db, http, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created()
    await paypal.emulator.settings(hold_webhooks=True)
    await paypal.emulator.approve(payment["gateway_transaction_id"])
    [event] = await paypal.emulator.events()
    [genuine] = event["transmissions"]
    headers = {k.lower(): v for k, v in genuine["headers"].items()}
    body = json.loads(genuine["raw"])
    body["resource"]["purchase_units"][0]["amount"]["value"] = "1.00"
    missing = {k: v for k, v in headers.items() if k != "paypal-transmission-sig"}

    attempts = [
        (json.dumps(body).encode(), headers),  # the signed body was changed
        (genuine["raw"].encode(), missing),
        (b"{not json", headers),
    ]
    answers = [
        await http.post(f"/webhooks/paypal/{paypal.account_id}", content=raw, headers=h)
        for raw, h in attempts
    ]

    assert [a.status_code for a in answers] == [401, 401, 401]
    stored = await webhook_rows(db, paypal.account_id)
    assert [row["status"] for row in stored] == ["rejected"] * 3
    assert (await paypal.shop.get(payment["id"]))["status"] == "pending"
    await paypal.emulator.deliver(event["id"])  # the genuine one
    await paypal.status(payment["id"], "captured")
    await delivered(db, payment["id"], ["payment.captured"])


async def test_an_expired_token_is_renewed_on_401(factory, db, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual")
    await paypal.approve(payment)
    await paypal.status(payment["id"], "authorized")
    tokens_before = len(await paypal.emulator.calls("token"))
    revoked = await paypal.emulator.control("POST", "/tokens/revoke")
    assert revoked["revoked"] >= 2  # payrelay's and the helper's

    captured = await paypal.shop.command(payment["id"], "capture")

    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured"
    refused = [c for c in await paypal.emulator.calls() if c["status"] == 401]
    assert [c["operation"] for c in refused] == ["show_order"]  # the first call after revoking
    assert len(await paypal.emulator.calls("token")) == tokens_before + 1
    assert len(await paypal.emulator.calls("capture")) == 1
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_paypal_unreachable_at_capture_sends_nothing(factory, db, emulator, receiver):
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created(capture_method="manual")
    await paypal.approve(payment)
    await paypal.status(payment["id"], "authorized")
    await paypal.emulator.fault("show_order", "error")  # reading the order fails: 500

    failed = await paypal.shop.command(payment["id"], "capture", key="capture-once")

    assert failed.status_code == 502, failed.text
    assert error_code(failed) == "gateway_unavailable"
    assert await paypal.emulator.calls("capture") == []
    retried = await paypal.shop.command(payment["id"], "capture", key="capture-once")
    assert retried.status_code == 200, retried.text
    await asyncio.sleep(0)
    assert len(await paypal.emulator.calls("capture")) == 1
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_refused_completion_stays_open_through_the_janitor(
    factory, db, http, settings, gateway_http, emulator, receiver
):
    """The buyer comes back through the cancel URL (PayPal: ORDER_NOT_APPROVED), the janitor
    checks the open completion while the order is still unapproved, then the buyer approves:
    the completion is sent again with the same key and captures."""
    paypal = await paypal_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await paypal.created()
    back = await http.get(f"/return/paypal/{paypal.account_id}/{payment['id']}")
    assert back.status_code == 200
    [complete] = await operations(db, payment["id"], "complete")
    assert complete["status"] == "pending"

    moment = datetime.now(UTC) + timedelta(minutes=11)
    await janitor(db, gateway_http, settings, lambda: moment)

    [complete] = await operations(db, payment["id"], "complete")
    assert complete["status"] == "pending"  # PayPal completed nothing: still open
    await execute(
        db,
        "UPDATE payment_operations SET updated_at = now() - interval '2 minutes' WHERE id = :o",
        o=complete["id"],
    )
    await paypal.approve(payment)
    await paypal.status(payment["id"], "captured")
    calls = await paypal.emulator.calls("capture_order")
    assert [c["status"] for c in calls] == [422, 201]
    assert {c["request_id"] for c in calls} == {complete["gateway_idempotency_key"]}
    await delivered(db, payment["id"], ["payment.captured"])
