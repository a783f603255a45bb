"""The webhook inbox (design §6): verified, deduplicated, monotonic, scoped to its account."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.idempotency.helpers import (
    account_config,
    event_types,
    post_webhook,
    sandbox_event,
    sandbox_row,
    sandbox_signature,
    webhook_rows,
)

ACK = {"received": True}


async def _pending(shop, db, **overrides):
    """A pending payment, its sandbox ledger row and the account's webhook secret."""
    payment = await shop.created(capture_method="manual", **overrides)
    ledger = await sandbox_row(db, payment["id"])
    secret = (await account_config(db, shop.sandbox_account_id))["webhook_secret"]
    return payment, ledger, secret


async def test_signed_webhook_moves_the_payment(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized", event_id="evt_authorized_1")

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert response.status_code == 200, response.text
    assert response.json() == ACK
    after = await shop.get(payment["id"])
    assert after["status"] == "authorized"
    assert after["authorized_amount"] == "150000"
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert len(stored) == 1
    assert stored[0]["status"] == "processed"
    assert stored[0]["webhook_id"] == "evt_authorized_1"
    assert str(stored[0]["payment_request_id"]) == payment["id"]
    assert bytes(stored[0]["raw_body"]) == body
    assert event_types(await shop.events(payment["id"])).count("webhook.received") == 1


async def test_signed_decline_fails_the_payment(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "declined")

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert response.status_code == 200, response.text
    after = await shop.get(payment["id"])
    assert after["status"] == "failed"
    assert after["error"]["code"] == "card_declined"


def _stale(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body, int(time.time()) - 6 * 60)


def _future(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body, int(time.time()) + 6 * 60)


def _wrong_secret(secret: str, body: bytes) -> str:
    return sandbox_signature(secret + "x", body)


def _other_body(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body + b" ")


def _no_v1(secret: str, body: bytes) -> str:
    return f"t={int(time.time())}"


def _bad_timestamp(secret: str, body: bytes) -> str:
    return "t=yesterday,v1=00"


def _far_future(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body, 10**15)  # past the year 9999


def _beyond_time_t(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body, 10**20)


def _far_past(secret: str, body: bytes) -> str:
    return sandbox_signature(secret, body, -(10**15))


@pytest.mark.parametrize(
    "sign",
    [
        _wrong_secret,
        _other_body,
        _stale,
        _future,
        _far_future,
        _beyond_time_t,
        _far_past,
        _no_v1,
        _bad_timestamp,
        None,
    ],
    ids=[
        "wrong-secret",
        "signed-other-body",
        "stale",
        "future",
        "far-future",
        "beyond-time_t",
        "far-past",
        "no-v1",
        "malformed-header",
        "missing-header",
    ],
)
async def test_unverified_webhook_is_rejected_and_changes_nothing(factory, http, db, sign):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized")

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sign(secret, body) if sign else None
    )

    assert response.status_code == 401, response.text
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored] == ["rejected"]
    assert stored[0]["error"]
    assert bytes(stored[0]["raw_body"]) == body
    after = await shop.get(payment["id"])
    assert after["status"] == "pending"
    assert after["authorized_amount"] == "0"
    assert "webhook.received" not in event_types(await shop.events(payment["id"]))


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"id":"evt_1","type":"payment.authorized"}',
        b'{"id":"evt_1","type":"payment.authorized","created":1,"data":{"status":"authorized"}}',
        b"[]",
        b'{"id":"evt_1","type":"payment.authorized","created":100000000000000000000,'
        b'"data":{"id":"sbx_1","status":"authorized",'
        b'"payment_reference":"01a200a4-26aa-74b2-8436-52ea6a9d13b5"}}',
    ],
    ids=["not-json", "no-data", "data-without-ids", "not-an-object", "created-out-of-range"],
)
async def test_signed_but_malformed_webhook_is_rejected(factory, http, db, body):
    shop = await factory.merchant()
    payment, _, secret = await _pending(shop, db)

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert response.status_code == 401, response.text
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored] == ["rejected"]
    assert (await shop.get(payment["id"]))["status"] == "pending"


async def test_every_rejected_webhook_is_kept(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized")

    for _ in range(3):
        response = await post_webhook(
            http, shop.sandbox_account_id, body, _wrong_secret(secret, body)
        )
        assert response.status_code == 401

    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored] == ["rejected"] * 3
    assert (await shop.get(payment["id"]))["status"] == "pending"


async def test_a_forged_event_does_not_burn_the_genuine_events_id(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized", event_id="evt_contested")

    forged = await post_webhook(http, shop.sandbox_account_id, body, _wrong_secret(secret, body))
    genuine = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert forged.status_code == 401
    assert genuine.status_code == 200, genuine.text
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored] == ["rejected", "processed"]
    assert (await shop.get(payment["id"]))["status"] == "authorized"


async def test_the_same_event_twice_has_one_effect(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized", event_id="evt_twice")

    first = await post_webhook(http, shop.sandbox_account_id, body, sandbox_signature(secret, body))
    second = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert second.json() == ACK
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert len(stored) == 1
    assert stored[0]["status"] == "processed"
    events = event_types(await shop.events(payment["id"]))
    assert events.count("webhook.received") == 1
    assert events.count("payment.authorized") == 1
    assert (await shop.get(payment["id"]))["status"] == "authorized"


async def test_concurrent_deliveries_of_one_event_have_one_effect(factory, http, db):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized", event_id="evt_burst")
    signature = sandbox_signature(secret, body)

    responses = await asyncio.gather(
        *(post_webhook(http, shop.sandbox_account_id, body, signature) for _ in range(5))
    )

    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert len(await webhook_rows(db, shop.sandbox_account_id)) == 1
    events = event_types(await shop.events(payment["id"]))
    assert events.count("webhook.received") == 1
    assert events.count("payment.authorized") == 1


async def test_an_older_event_after_a_newer_one_is_ignored(factory, http, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    assert payment["status"] == "captured"
    ledger = await sandbox_row(db, payment["id"])
    secret = (await account_config(db, shop.sandbox_account_id))["webhook_secret"]
    before = await webhook_rows(db, shop.sandbox_account_id)
    body = sandbox_event(ledger, "authorized", event_id="evt_late_authorized")

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
    )

    assert response.status_code == 200, response.text
    assert response.json() == ACK
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert len(stored) == len(before) + 1
    assert stored[-1]["webhook_id"] == "evt_late_authorized"
    assert stored[-1]["status"] == "ignored"
    after = await shop.get(payment["id"])
    assert after["status"] == "captured"
    assert after["captured_amount"] == payment["captured_amount"] == "150000"
    assert after["captured_at"] == payment["captured_at"]


async def test_a_stale_pending_event_does_not_reopen_an_authorized_payment(factory, http, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    ledger = await sandbox_row(db, payment["id"])
    secret = (await account_config(db, shop.sandbox_account_id))["webhook_secret"]

    for status in ("pending", "declined"):
        body = sandbox_event(ledger, status)
        response = await post_webhook(
            http, shop.sandbox_account_id, body, sandbox_signature(secret, body)
        )
        assert response.status_code == 200, response.text

    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored[-2:]] == ["ignored", "ignored"]
    after = await shop.get(payment["id"])
    assert after["status"] == "authorized"
    assert after["error"] is None


@pytest.mark.parametrize(
    "account_id",
    [2_000_000_000, 2**31, 10**12, 0, -1],
    ids=["unused", "past-int32", "huge", "zero", "negative"],
)
async def test_unknown_account_is_404(factory, http, db, account_id):
    shop = await factory.merchant()
    _, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized")

    response = await post_webhook(http, account_id, body, sandbox_signature(secret, body))

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "unknown_webhook_endpoint"
    assert await webhook_rows(db, shop.sandbox_account_id) == []


@pytest.mark.parametrize("code", ["momo", "stripe", "nonexistent"])
async def test_code_that_does_not_match_the_account_is_404(factory, http, db, code):
    shop = await factory.merchant()
    payment, ledger, secret = await _pending(shop, db)
    body = sandbox_event(ledger, "authorized")

    response = await post_webhook(
        http, shop.sandbox_account_id, body, sandbox_signature(secret, body), code=code
    )

    assert response.status_code == 404, response.text
    assert await webhook_rows(db, shop.sandbox_account_id) == []
    assert (await shop.get(payment["id"]))["status"] == "pending"


async def test_webhook_for_another_accounts_payment_is_ignored(factory, http, db):
    attacker, victim = await factory.merchant(), await factory.merchant()
    payment, ledger, _ = await _pending(victim, db)
    attacker_secret = (await account_config(db, attacker.sandbox_account_id))["webhook_secret"]
    # Correctly signed for the attacker's account, about the victim's payment.
    body = sandbox_event(ledger, "authorized")

    response = await post_webhook(
        http, attacker.sandbox_account_id, body, sandbox_signature(attacker_secret, body)
    )

    assert response.status_code == 200, response.text
    stored = await webhook_rows(db, attacker.sandbox_account_id)
    assert [row["status"] for row in stored] == ["ignored"]
    assert stored[0]["payment_request_id"] is None
    assert await webhook_rows(db, victim.sandbox_account_id) == []
    after = await victim.get(payment["id"])
    assert after["status"] == "pending"
    assert "webhook.received" not in event_types(await victim.events(payment["id"]))


async def test_webhook_signed_with_another_accounts_secret_is_rejected(factory, http, db):
    one, two = await factory.merchant(), await factory.merchant()
    payment, ledger, _ = await _pending(one, db)
    other_secret = (await account_config(db, two.sandbox_account_id))["webhook_secret"]
    body = sandbox_event(ledger, "authorized")

    response = await post_webhook(
        http, one.sandbox_account_id, body, sandbox_signature(other_secret, body)
    )

    assert response.status_code == 401, response.text
    assert [row["status"] for row in await webhook_rows(db, one.sandbox_account_id)] == ["rejected"]
    assert (await one.get(payment["id"]))["status"] == "pending"


async def test_checkout_notification_reaches_the_inbox(factory, db):
    shop = await factory.merchant()
    payment = await shop.created(capture_method="manual")

    response = await shop.checkout(payment["id"], "succeed")

    assert response.status_code == 200, response.text
    assert response.json()["notified"] is True
    stored = await webhook_rows(db, shop.sandbox_account_id)
    assert [row["status"] for row in stored] == ["processed"]
    assert stored[0]["event_type"] == "payment.authorized"
    assert (await shop.get(payment["id"]))["status"] == "authorized"


async def test_a_rejected_webhook_with_nul_characters_is_still_kept(factory, http, db):
    shop = await factory.merchant()
    body = b'{"id": "evt_\\u0000", "data": {"note": "\\u0000"}}'
    response = await http.post(
        f"/webhooks/sandbox/{shop.sandbox_account_id}",
        content=body,
        headers={"Sandbox-Signature": "t=1,v1=00"},
    )
    assert response.status_code == 401
    [row] = await webhook_rows(db, shop.sandbox_account_id)
    assert row["status"] == "rejected"
    assert bytes(row["raw_body"]) == body
    assert row["payload"] is None
