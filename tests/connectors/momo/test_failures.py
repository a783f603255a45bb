"""What goes wrong with MoMo: IPNs duplicated, late or forged; MoMo unreachable or silent at
create. Money moves only on a genuine IPN or a status query; each flow ends with the merchant's
callback delivered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from payrelay.connectors.momo import signatures, transformers
from payrelay.payment.tasks import janitor
from tests import inbox
from tests.callback.receiver import Receiver
from tests.connectors.momo.helpers import ACCESS, delivered, momo_shop
from tests.emulators import RunningEmulator
from tests.idempotency.helpers import (
    create_operation,
    error_code,
    execute,
    free_port,
    set_base_url,
    webhook_rows,
)


@pytest.fixture
def emulator():
    with RunningEmulator("momo") as running:
        yield running


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


async def run_janitor(db, http: httpx.AsyncClient, settings, merchant_id) -> None:
    """The janitor on a clock 11 minutes ahead (past `janitor_after`). What it changes queues
    callbacks due on that clock; the merchant's outbox is moved to it, as if the time passed."""
    moment = datetime.now(UTC) + timedelta(minutes=11)
    await janitor(db, http, settings, lambda: moment)
    await execute(
        db,
        "UPDATE payment_callbacks SET next_retry_at = now() "
        "WHERE merchant_id = :m AND status = 'pending' AND next_retry_at > now()",
        m=merchant_id,
    )


async def post_ipn(http: httpx.AsyncClient, account_id: int, body: bytes) -> httpx.Response:
    response = await http.post(
        f"/webhooks/momo/{account_id}",
        content=body,
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    if response.status_code == 204:
        await inbox.drained(account_id)
    return response


async def test_a_duplicated_ipn_is_applied_once(factory, db, http, emulator, receiver):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created()
    paid = await momo.pay(payment)

    again = await momo.emulator.notify_again(payment["gateway_transaction_id"])
    replayed = await post_ipn(http, momo.account_id, paid["ipn"]["raw"].encode())

    assert again["attempts"] == [{"status": 204}, {"status": 204}]
    assert replayed.status_code == 204
    assert replayed.content == b""
    stored = await webhook_rows(db, momo.account_id)
    assert [row["status"] for row in stored] == ["processed"]
    assert (await momo.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_a_late_authorization_ipn_after_the_capture_changes_nothing(
    factory, db, http, settings, gateway_http, receiver
):
    with RunningEmulator("momo", {"ipn_on_confirm": "true"}) as emulator:
        momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
        payment = await momo.created(capture_method="manual")
        order_id = payment["gateway_transaction_id"]
        held = await momo.emulator.pay(order_id, notify=False)  # the 9000 IPN is late
        # Nobody told payrelay: the janitor's status query finds the authorization.
        await run_janitor(db, gateway_http, settings, momo.shop.id)
        assert (await momo.shop.get(payment["id"]))["status"] == "authorized"

        captured = await momo.shop.command(payment["id"], "capture")
        assert captured.status_code == 200, captured.text
        for _ in range(500):  # MoMo notifies the capture too (ipn_on_confirm)
            ipns = (await momo.emulator.order(order_id))["ipns"]
            if len(ipns) == 2 and ipns[1]["attempts"]:
                break
            await asyncio.sleep(0.02)
        assert ipns[1]["body"]["resultCode"] == 0
        assert ipns[1]["attempts"] == [{"status": 204}]
        await inbox.drained(momo.account_id)

        late = await post_ipn(http, momo.account_id, held["ipn"]["raw"].encode())
        twice = await post_ipn(http, momo.account_id, held["ipn"]["raw"].encode())

    assert late.status_code == 204
    assert twice.status_code == 204
    after = await momo.shop.get(payment["id"])
    assert after["status"] == "captured"
    assert after["captured_amount"] == "150000"
    stored = {row["event_type"]: row["status"] for row in await webhook_rows(db, momo.account_id)}
    assert stored == {"ipn.0": "ignored", "ipn.9000": "ignored"}  # no change: stale or known
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])


def _tampered(raw: str, **changes) -> bytes:
    body = json.loads(raw)
    body.update(changes)
    return json.dumps(body, ensure_ascii=False).encode()


async def test_a_bad_ipn_signature_is_rejected_and_changes_nothing(
    factory, db, http, emulator, receiver
):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created()
    held = await momo.emulator.pay(payment["gateway_transaction_id"], notify=False)
    raw = held["ipn"]["raw"]
    body = json.loads(raw)
    forged = signatures.signed("a-guessed-secret", ACCESS, signatures.IPN, body)

    attempts = [
        _tampered(raw, amount=1000),  # the signature no longer matches
        json.dumps(forged).encode(),  # signed with another key
        _tampered(raw, partnerCode="SOMEONE"),
        _tampered(raw, signature=None),
        b"{not json",
        b"[]",
    ]
    answers = [await post_ipn(http, momo.account_id, attempt) for attempt in attempts]

    assert [answer.status_code for answer in answers] == [400] * len(attempts)
    stored = await webhook_rows(db, momo.account_id)
    assert [row["status"] for row in stored] == ["rejected"] * len(attempts)
    pending = await momo.shop.get(payment["id"])
    assert pending["status"] == "pending"

    genuine = await post_ipn(http, momo.account_id, raw.encode())
    assert genuine.status_code == 204
    assert (await momo.shop.get(payment["id"]))["status"] == "captured"
    await delivered(db, payment["id"], ["payment.captured"])


async def test_momo_unreachable_at_create_then_the_retry_creates_the_same_order(
    factory, db, emulator, receiver
):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    await set_base_url(db, momo.account_id, f"http://127.0.0.1:{free_port()}")
    key = momo.shop.new_key()

    failed = await momo.shop.create(key=key, gateway="momo", order_id="order-unreachable")

    assert failed.status_code == 502, failed.text
    assert error_code(failed) == "gateway_unavailable"
    payment_id = failed.json()["error"]["details"]["payment_id"]
    assert (await create_operation(db, payment_id))["status"] == "pending"
    await set_base_url(db, momo.account_id, emulator.url)

    retried = await momo.shop.create(key=key, gateway="momo", order_id="order-unreachable")

    assert retried.status_code == 201, retried.text
    payment = retried.json()
    assert payment["id"] == payment_id
    assert payment["next_action"]["type"] == "redirect"
    await momo.pay(payment)
    await delivered(db, payment_id, ["payment.captured"])


async def test_momo_unreachable_at_create_and_never_asked_again_fails_the_payment(
    factory, db, settings, gateway_http, emulator, receiver
):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    await set_base_url(db, momo.account_id, f"http://127.0.0.1:{free_port()}")
    failed = await momo.create()
    assert failed.status_code == 502, failed.text
    payment_id = failed.json()["error"]["details"]["payment_id"]
    await set_base_url(db, momo.account_id, emulator.url)

    await run_janitor(db, gateway_http, settings, momo.shop.id)

    payment = await momo.shop.get(payment_id)
    assert payment["status"] == "failed"  # MoMo has no such order (42): nothing was charged
    assert payment["error"]["code"] == "gateway_unavailable"
    [query] = await momo.emulator.calls("query")
    assert query["answer"]["resultCode"] == 42
    await delivered(db, payment_id, ["payment.failed"])


async def test_momo_silent_at_create_is_unknown_until_the_status_query_resolves_it(
    factory, db, settings, gateway_http, emulator, receiver
):
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    await momo.emulator.fault("create", "hang")  # MoMo creates the order, the answer is lost

    unknown = await momo.create()

    assert unknown.status_code == 504, unknown.text
    assert error_code(unknown) == "gateway_outcome_unknown"
    payment_id = unknown.json()["error"]["details"]["payment_id"]
    payment = await momo.shop.get(payment_id)
    assert payment["status"] == "pending"
    assert payment["gateway_transaction_id"] is None
    assert (await create_operation(db, payment_id))["status"] == "unknown"
    order_id = transformers.order_id_for(payment["order_reference"])
    for _ in range(500):  # the emulator records the create once it gives up holding it
        if await momo.emulator.calls("create"):
            break
        await asyncio.sleep(0.02)
    # The customer paid (the payUrl reached nobody here, but MoMo's app can) and the IPN is lost.
    await momo.emulator.pay(order_id, notify=False)

    await run_janitor(db, gateway_http, settings, momo.shop.id)

    resolved = await momo.shop.get(payment_id)
    assert resolved["status"] == "captured"
    assert resolved["captured_amount"] == "150000"
    assert resolved["gateway_transaction_id"] == order_id
    assert (await create_operation(db, payment_id))["status"] == "succeeded"
    await delivered(db, payment_id, ["payment.captured"])


async def test_a_capture_whose_answer_was_lost_is_settled_by_the_status_query(
    factory, db, settings, gateway_http, emulator, receiver
):
    """MoMo captured but its answer never came back: the janitor reads the order's state
    (captured) and records the capture once — never by sending it again."""
    momo = await momo_shop(factory, emulator.url, callback_url=receiver.url)
    payment = await momo.created(capture_method="manual")
    await momo.pay(payment)
    assert (await momo.shop.get(payment["id"]))["status"] == "authorized"
    await momo.emulator.fault("confirm", "hang")

    lost = await momo.shop.command(payment["id"], "capture")

    assert lost.status_code == 504, lost.text
    assert error_code(lost) == "gateway_outcome_unknown"
    for _ in range(500):
        if await momo.emulator.calls("confirm"):
            break
        await asyncio.sleep(0.02)
    await run_janitor(db, gateway_http, settings, momo.shop.id)
    captured = await momo.shop.get(payment["id"])
    assert (captured["status"], captured["captured_amount"]) == ("captured", "150000")
    assert len(await momo.emulator.calls("confirm")) == 1  # settled by reading, not resending
    await delivered(db, payment["id"], ["payment.authorized", "payment.captured"])
