"""What goes wrong with AllSecure: callbacks duplicated, late, out of order or forged; the
gateway silent at capture or at create; authorizations left uncaptured. Money moves only on a
genuine callback about the payment, an operation's own answer, or a status query; each flow
ends with the merchant's callback delivered."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from payrelay.payment.tasks import auto_void_due, janitor
from tests import inbox
from tests.connectors.allsecure.helpers import delivered
from tests.idempotency.helpers import (
    create_operation,
    error_code,
    execute,
    free_port,
    operations,
    set_base_url,
    webhook_rows,
)


def later(**delta: float):
    moment = datetime.now(UTC) + timedelta(**delta)
    return lambda: moment


async def run_janitor(db, http, settings, merchant_id) -> None:
    """The janitor on a clock 11 minutes ahead (past `janitor_after`); the merchant's outbox is
    moved to that clock too, as if the time passed."""
    await janitor(db, http, settings, later(minutes=11))
    await execute(
        db,
        "UPDATE payment_callbacks SET next_retry_at = now() "
        "WHERE merchant_id = :m AND status = 'pending' AND next_retry_at > now()",
        m=merchant_id,
    )


async def called(emulator, operation: str) -> None:
    """Wait until the emulator recorded a call it held back (it records it once it answers)."""
    for _ in range(500):
        if await emulator.calls(operation):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the emulator never recorded {operation}")


async def test_a_duplicated_callback_is_applied_once(allsecure, db, http):
    payment = await allsecure.created()
    paid = await allsecure.pay(payment)

    again = await allsecure.emulator.notify_again(payment["gateway_transaction_id"])
    await inbox.drained(allsecure.account_id)
    replayed = await allsecure.post_callback(http, paid["callback"]["raw"].encode())

    assert [a["status"] for a in again["attempts"]] == [200, 200]
    assert (replayed.status_code, replayed.text) == (200, "OK")
    stored = await webhook_rows(db, allsecure.account_id)
    assert [row["status"] for row in stored] == ["processed"]  # one event, stored once
    assert stored[0]["webhook_id"] == f"DEBIT:{payment['gateway_transaction_id']}:OK"
    assert (await allsecure.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_pending_callback_after_the_result_changes_nothing(allsecure, db, http):
    await allsecure.emulator.next("pending")
    payment = await allsecure.created()
    assert (payment["status"], payment["gateway_status"]) == ("pending", "PENDING")
    [pending] = await allsecure.emulator.called_back(payment["gateway_transaction_id"])
    assert pending["body"]["result"] == "PENDING"
    await inbox.drained(allsecure.account_id)

    await allsecure.pay(payment)
    late = await allsecure.post_callback(http, pending["raw"].encode())  # arrives again, late

    assert late.status_code == 200
    after = await allsecure.shop.get(payment["id"])
    assert (after["status"], after["gateway_status"]) == ("captured", "SUCCESSFUL")
    stored = {
        row["event_type"]: row["status"] for row in await webhook_rows(db, allsecure.account_id)
    }
    assert stored == {"debit.pending": "ignored", "debit.ok": "processed"}
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_late_authorization_callback_after_the_capture_changes_nothing(
    allsecure, db, http, settings, gateway_http
):
    payment = await allsecure.created(capture_method="manual")
    uuid = payment["gateway_transaction_id"]
    held = await allsecure.emulator.complete(uuid, "approve", notify=False)  # the callback is late
    await run_janitor(db, gateway_http, settings, allsecure.shop.id)  # the status query finds it
    assert (await allsecure.shop.get(payment["id"]))["status"] == "authorized"

    captured = await allsecure.shop.command(payment["id"], "capture")
    assert captured.status_code == 200, captured.text
    [capture] = await allsecure.emulator.transactions("CAPTURE")
    await allsecure.emulator.called_back(capture["uuid"])
    await inbox.drained(allsecure.account_id)  # the CAPTURE callback: kept, moves nothing
    late = await allsecure.post_callback(http, held["callback"]["raw"].encode())

    assert late.status_code == 200
    after = await allsecure.shop.get(payment["id"])
    assert (after["status"], after["captured_amount"]) == ("captured", "1250.50")
    stored = {
        row["event_type"]: row["status"] for row in await webhook_rows(db, allsecure.account_id)
    }
    assert stored == {"capture.ok": "ignored", "preauthorize.ok": "ignored"}
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


def _tampered(raw: str, **changes) -> bytes:
    return json.dumps({**json.loads(raw), **changes}).encode()


async def test_a_bad_callback_signature_is_rejected_and_changes_nothing(allsecure, db, http):
    payment = await allsecure.created()
    held = await allsecure.emulator.complete(payment["gateway_transaction_id"], notify=False)
    raw = held["callback"]["raw"]
    stale = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    answers = [
        await allsecure.post_callback(http, raw.encode(), secret="a-guessed-secret"),
        await allsecure.post_callback(http, _tampered(raw, amount="1.00"), signed=raw.encode()),
        await allsecure.post_callback(http, raw.encode(), uri="/webhooks/allsecure/0"),
        await allsecure.post_callback(http, raw.encode(), date=stale),
        await allsecure.post_callback(http, raw.encode(), headers={"X-Signature": ""}),
        await allsecure.post_callback(http, b"{not json"),
    ]

    assert [(a.status_code, a.text) for a in answers] == [(401, "ERROR")] * len(answers)
    stored = await webhook_rows(db, allsecure.account_id)
    assert [row["status"] for row in stored] == ["rejected"] * len(answers)
    assert (await allsecure.shop.get(payment["id"]))["status"] == "pending"

    genuine = await allsecure.post_callback(http, raw.encode())
    assert (genuine.status_code, genuine.text) == (200, "OK")
    assert (await allsecure.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_capture_whose_answer_was_lost_is_settled_by_the_janitor(
    allsecure, db, settings, gateway_http
):
    """AllSecure captured but its answer never came back: the janitor looks the capture up by
    its merchantTransactionId and records it — it is never sent a second time."""
    payment = await allsecure.authorized()
    await allsecure.emulator.fault("capture", "hang")

    lost = await allsecure.shop.command(payment["id"], "capture", {"amount": "1000.00"})

    assert lost.status_code == 504, lost.text
    assert error_code(lost) == "gateway_outcome_unknown"
    await called(allsecure.emulator, "capture")
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "unknown"
    await run_janitor(db, gateway_http, settings, allsecure.shop.id)

    captured = await allsecure.shop.get(payment["id"])
    assert (captured["status"], captured["captured_amount"]) == ("captured", "1000.00")
    [capture_op] = await operations(db, payment["id"], "capture")
    assert capture_op["status"] == "succeeded"
    assert len(await allsecure.emulator.calls("capture")) == 1  # settled by reading
    lookups = [call["path"] for call in await allsecure.emulator.calls("status")]
    assert any(path.endswith(capture_op["gateway_idempotency_key"]) for path in lookups)
    [capture] = await allsecure.emulator.transactions("CAPTURE")
    assert capture["amount"] == "1000.00"
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_a_capture_retried_after_a_lost_answer_is_not_done_twice(allsecure, db):
    payment = await allsecure.authorized()
    await allsecure.emulator.fault("capture", "hang")
    lost = await allsecure.shop.command(payment["id"], "capture", key="capture-1")
    assert lost.status_code == 504, lost.text
    await called(allsecure.emulator, "capture")

    retried = await allsecure.shop.command(payment["id"], "capture", key="capture-1")

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "captured"
    _, second = await allsecure.emulator.calls("capture")
    assert second["answer"]["errorCode"] == 3004  # AllSecure refuses the id a second time
    assert len(await allsecure.emulator.transactions("CAPTURE")) == 1
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


async def test_an_uncaptured_authorization_is_voided_after_seven_days(
    allsecure, db, settings, gateway_http
):
    payment = await allsecure.authorized()
    assert await auto_void_due(db, gateway_http, settings, later(days=6)) == 0

    await auto_void_due(db, gateway_http, settings, later(days=7, minutes=1))

    voided = await allsecure.shop.get(payment["id"])
    assert voided["status"] == "voided"
    [void] = await allsecure.emulator.transactions("VOID")
    assert void["referenceUuid"] == payment["gateway_transaction_id"]
    [requested] = [
        e for e in await allsecure.shop.events(payment["id"]) if e["event_type"] == "void.requested"
    ]
    assert requested["actor"] == "system"
    await delivered(db, payment["id"], ["payment.authorized", "payment.voided"])


async def test_a_create_whose_answer_was_lost_is_found_by_its_merchant_transaction_id(
    allsecure, db, settings, gateway_http
):
    await allsecure.emulator.fault("debit", "hang")
    unknown = await allsecure.create()
    assert unknown.status_code == 504, unknown.text
    payment_id = unknown.json()["error"]["details"]["payment_id"]
    await called(allsecure.emulator, "debit")
    [debit] = await allsecure.emulator.transactions("DEBIT")
    await allsecure.emulator.complete(debit["uuid"], notify=False)  # paid; callback lost too

    await run_janitor(db, gateway_http, settings, allsecure.shop.id)

    resolved = await allsecure.shop.get(payment_id)
    assert (resolved["status"], resolved["gateway_transaction_id"]) == ("captured", debit["uuid"])
    assert (await create_operation(db, payment_id))["status"] == "succeeded"
    await delivered(db, payment_id, ["payment.captured"])


async def test_a_create_that_never_arrived_fails_the_payment(
    allsecure, db, settings, gateway_http, emulator
):
    await set_base_url(db, allsecure.account_id, f"http://127.0.0.1:{free_port()}")
    failed = await allsecure.create()
    assert failed.status_code == 502, failed.text
    payment_id = failed.json()["error"]["details"]["payment_id"]
    await set_base_url(db, allsecure.account_id, emulator.url)

    await run_janitor(db, gateway_http, settings, allsecure.shop.id)

    payment = await allsecure.shop.get(payment_id)
    assert (payment["status"], payment["error"]["code"]) == ("failed", "gateway_unavailable")
    [lookup] = await allsecure.emulator.calls("status")
    assert lookup["answer"] == {
        "success": False,
        "errorMessage": "Transaction not found",
        "errorCode": 8001,
    }
    await delivered(db, payment_id, ["payment.failed"])


@pytest.mark.parametrize("emulator_options", [{"callback_body_hash": "sha512"}])
async def test_callbacks_signed_with_a_sha512_body_hash_are_accepted(allsecure, db):
    payment = await allsecure.created()
    paid = await allsecure.pay(payment)
    assert paid["callback"]["attempts"] == [{"status": 200, "body": "OK"}]
    assert (await allsecure.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])
