"""Idempotency keys on the merchant API (design §4): replays, conflicts, reuse, concurrency."""

from __future__ import annotations

import asyncio
import uuid

from tests.idempotency.helpers import (
    SANDBOX_CREATE_ROUTE,
    SANDBOX_OPERATE_ROUTE,
    create_body,
    create_operation,
    error_code,
    event_types,
    execute,
    http_requests,
    idempotency_key_row,
    operations,
    payment_request_count,
    post_create,
    sandbox_row,
    sandbox_rows,
)

REPLAYED = "Idempotent-Replayed"


def _key() -> str:
    return f"idem-{uuid.uuid4()}"


# --- create ----------------------------------------------------------------------------------


async def test_create_replays_the_first_answer_without_a_second_row_or_gateway_call(
    factory, http, db
):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    calls_before = await http_requests(http, SANDBOX_CREATE_ROUTE)

    first = await post_create(http, shop.api_key, body, key)
    again = await post_create(http, shop.api_key, body, key)

    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert await payment_request_count(db, shop.id) == 1
    operation = await create_operation(db, first.json()["id"])
    assert operation["attempts"] == 1
    assert operation["status"] == "succeeded"
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1
    assert await http_requests(http, SANDBOX_CREATE_ROUTE) - calls_before == 1


async def test_create_replay_still_answers_the_first_response_after_the_payment_moved(
    factory, http, db
):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    first = await post_create(http, shop.api_key, body, key)
    assert first.status_code == 201, first.text
    assert (await shop.checkout(first.json()["id"], "succeed")).status_code == 200

    again = await post_create(http, shop.api_key, body, key)

    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert again.json()["status"] == "pending"
    assert (await shop.get(first.json()["id"]))["status"] == "captured"
    assert await payment_request_count(db, shop.id) == 1


async def test_create_accepts_the_key_in_the_body(factory, http, db):
    shop = await factory.merchant()
    key = _key()
    body = create_body(idempotency_key=key)

    first = await post_create(http, shop.api_key, body)
    again = await post_create(http, shop.api_key, body)
    # The same key in the header and in the body is the same request.
    both = await post_create(http, shop.api_key, body, key)

    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert both.status_code == 201
    assert both.headers[REPLAYED] == "true"
    assert both.json()["id"] == first.json()["id"]
    assert await payment_request_count(db, shop.id) == 1
    assert (await create_operation(db, first.json()["id"]))["attempts"] == 1


async def test_create_header_and_body_keys_must_agree(factory, http, db):
    shop = await factory.merchant()
    response = await post_create(http, shop.api_key, create_body(idempotency_key=_key()), _key())

    assert response.status_code == 400
    assert error_code(response) == "idempotency_key_invalid"
    assert await payment_request_count(db, shop.id) == 0


async def test_create_without_a_key_is_refused(factory, http, db):
    shop = await factory.merchant()
    response = await post_create(http, shop.api_key, create_body())

    assert response.status_code == 400
    assert error_code(response) == "idempotency_key_missing"
    assert await payment_request_count(db, shop.id) == 0
    assert await sandbox_rows(db, shop.sandbox_account_id) == []


async def test_same_key_with_a_different_body_is_422(factory, http, db):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    first = await post_create(http, shop.api_key, body, key)
    assert first.status_code == 201, first.text
    calls_before = await http_requests(http, SANDBOX_CREATE_ROUTE)

    changed = await post_create(http, shop.api_key, {**body, "amount": "150001"}, key)

    assert changed.status_code == 422
    assert error_code(changed) == "idempotency_key_reused"
    assert REPLAYED not in changed.headers
    assert await payment_request_count(db, shop.id) == 1
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1
    assert await http_requests(http, SANDBOX_CREATE_ROUTE) == calls_before
    # The original request still replays.
    again = await post_create(http, shop.api_key, body, key)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


async def test_keys_are_scoped_to_the_merchant(factory, http, db):
    one, two = await factory.merchant(), await factory.merchant()
    key, body = _key(), create_body()

    first = await post_create(http, one.api_key, body, key)
    second = await post_create(http, two.api_key, body, key)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert REPLAYED not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert await payment_request_count(db, one.id) == 1
    assert await payment_request_count(db, two.id) == 1


async def test_fifty_concurrent_creates_with_one_key_make_one_payment(factory, http, db):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    calls_before = await http_requests(http, SANDBOX_CREATE_ROUTE)

    responses = await asyncio.gather(
        *(post_create(http, shop.api_key, body, key) for _ in range(50))
    )

    succeeded = [r for r in responses if r.status_code in (200, 201)]
    refused = [r for r in responses if r.status_code == 409]
    assert len(succeeded) + len(refused) == 50, [r.text for r in responses]
    assert succeeded, [r.text for r in responses]
    assert {r.json()["id"] for r in succeeded} == {succeeded[0].json()["id"]}
    assert all(error_code(r) == "idempotency_key_in_use" for r in refused)
    payment_id = succeeded[0].json()["id"]
    assert await payment_request_count(db, shop.id) == 1
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1
    operation = await create_operation(db, payment_id)
    assert operation["attempts"] == 1
    assert operation["status"] == "succeeded"
    assert await http_requests(http, SANDBOX_CREATE_ROUTE) - calls_before == 1
    # Once the first request finished, the key replays it.
    again = await post_create(http, shop.api_key, body, key)
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == payment_id


async def test_create_key_reused_for_a_capture_is_422(factory, http, db):
    shop = await factory.merchant()
    key = _key()
    created = await post_create(http, shop.api_key, create_body(capture_method="manual"), key)
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    assert (await shop.checkout(payment_id, "succeed")).status_code == 200

    response = await shop.command(payment_id, "capture", key=key)

    assert response.status_code == 422
    assert error_code(response) == "idempotency_key_reused"
    payment = await shop.get(payment_id)
    assert payment["status"] == "authorized"
    assert payment["captured_amount"] == "0"
    assert await operations(db, payment_id, "capture") == []
    assert (await sandbox_row(db, payment_id))["operations"] == []


async def test_capture_key_reused_for_a_refund_is_422(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    captured = await shop.command(payment["id"], "capture", key=key)
    assert captured.status_code == 200, captured.text

    response = await shop.command(payment["id"], "refund", key=key)

    assert response.status_code == 422
    assert error_code(response) == "idempotency_key_reused"
    assert (await shop.get(payment["id"]))["refunded_amount"] == "0"
    assert await operations(db, payment["id"], "refund") == []
    # Nor can an operation's key create a payment.
    created = await shop.create(key=key)
    assert created.status_code == 422
    assert error_code(created) == "idempotency_key_reused"
    assert created.json()["error"]["details"]["original_path"] == (
        f"payments.capture:{payment['id']}"
    )
    assert await payment_request_count(db, shop.id) == 1


# --- capture, void, refund -------------------------------------------------------------------


async def test_capture_replays_without_a_second_gateway_operation(factory, http, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    calls_before = await http_requests(http, SANDBOX_OPERATE_ROUTE)

    first = await shop.command(payment["id"], "capture", key=key)
    again = await shop.command(payment["id"], "capture", key=key)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "captured"
    assert REPLAYED not in first.headers
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    ledger = await sandbox_row(db, payment["id"])
    assert [operation["action"] for operation in ledger["operations"]] == ["capture"]
    assert len(await operations(db, payment["id"], "capture")) == 1
    assert await http_requests(http, SANDBOX_OPERATE_ROUTE) - calls_before == 1
    events = event_types(await shop.events(payment["id"]))
    assert events.count("capture.requested") == 1
    assert events.count("capture.succeeded") == 1


async def test_capture_with_a_different_body_under_the_same_key_is_422(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    first = await shop.command(payment["id"], "capture", {"amount": "100000"}, key=key)
    assert first.status_code == 200, first.text

    changed = await shop.command(payment["id"], "capture", {"amount": "50000"}, key=key)
    everything = await shop.command(payment["id"], "capture", key=key)

    assert changed.status_code == 422
    assert error_code(changed) == "idempotency_key_reused"
    assert everything.status_code == 422
    assert error_code(everything) == "idempotency_key_reused"
    assert (await shop.get(payment["id"]))["captured_amount"] == "100000"
    assert len((await sandbox_row(db, payment["id"]))["operations"]) == 1


async def test_second_capture_without_a_key_is_refused_by_the_state_machine(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()

    first = await shop.command(payment["id"], "capture")
    second = await shop.command(payment["id"], "capture")

    assert first.status_code == 200, first.text
    assert second.status_code == 409
    assert error_code(second) == "illegal_transition"
    assert REPLAYED not in second.headers
    assert len((await sandbox_row(db, payment["id"]))["operations"]) == 1
    assert (await shop.get(payment["id"]))["captured_amount"] == "150000"


async def test_concurrent_captures_with_one_key_capture_once(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()

    responses = await asyncio.gather(
        *(shop.command(payment["id"], "capture", key=key) for _ in range(10))
    )

    succeeded = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 409]
    assert len(succeeded) + len(refused) == 10, [r.text for r in responses]
    assert succeeded
    assert all(r.json()["status"] == "captured" for r in succeeded)
    assert all(error_code(r) == "idempotency_key_in_use" for r in refused)
    ledger = await sandbox_row(db, payment["id"])
    assert len(ledger["operations"]) == 1
    assert ledger["captured_amount"] == 150000
    assert len(await operations(db, payment["id"], "capture")) == 1
    assert (await shop.get(payment["id"]))["captured_amount"] == "150000"
    assert event_types(await shop.events(payment["id"])).count("capture.succeeded") == 1


async def test_void_replays_without_a_second_gateway_operation(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()

    first = await shop.command(payment["id"], "void", {"reason": "out of stock"}, key=key)
    again = await shop.command(payment["id"], "void", {"reason": "out of stock"}, key=key)
    changed = await shop.command(payment["id"], "void", {"reason": "changed mind"}, key=key)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "voided"
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert changed.status_code == 422
    assert error_code(changed) == "idempotency_key_reused"
    ledger = await sandbox_row(db, payment["id"])
    assert [operation["action"] for operation in ledger["operations"]] == ["void"]
    assert len(await operations(db, payment["id"], "void")) == 1


async def test_refund_replays_without_a_second_gateway_operation(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    key = _key()

    first = await shop.command(payment["id"], "refund", {"amount": "50000"}, key=key)
    again = await shop.command(payment["id"], "refund", {"amount": "50000"}, key=key)
    changed = await shop.command(payment["id"], "refund", {"amount": "40000"}, key=key)

    assert first.status_code == 200, first.text
    assert first.json()["refunded_amount"] == "50000"
    assert first.json()["status"] == "partially_refunded"
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert changed.status_code == 422
    assert error_code(changed) == "idempotency_key_reused"
    ledger = await sandbox_row(db, payment["id"])
    assert [operation["action"] for operation in ledger["operations"]] == ["refunds"]
    assert ledger["refunded_amount"] == 50000
    assert (await shop.get(payment["id"]))["refunded_amount"] == "50000"
    # Without a key the same refund is a new refund: a retry needs the key.
    second = await shop.command(payment["id"], "refund", {"amount": "50000"})
    assert second.status_code == 200, second.text
    assert second.json()["refunded_amount"] == "100000"


async def test_concurrent_refunds_with_one_key_refund_once(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()
    key = _key()

    responses = await asyncio.gather(
        *(shop.command(payment["id"], "refund", {"amount": "30000"}, key=key) for _ in range(8))
    )

    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    assert any(r.status_code == 200 for r in responses)
    assert all(error_code(r) == "idempotency_key_in_use" for r in responses if r.status_code == 409)
    ledger = await sandbox_row(db, payment["id"])
    assert len(ledger["operations"]) == 1
    assert ledger["refunded_amount"] == 30000
    assert (await shop.get(payment["id"]))["refunded_amount"] == "30000"


async def test_operation_key_is_completed_with_the_stored_answer(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    response = await shop.command(payment["id"], "capture", key=key)
    assert response.status_code == 200, response.text

    row = await idempotency_key_row(db, shop.id, key)

    assert row is not None
    assert row["state"] == "completed"
    assert row["recovery_point"] == "finished"
    assert row["locked_until"] is None
    assert row["response_status"] == 200
    assert row["response_body"] == response.json()
    assert row["request_path"] == f"payments.capture:{payment['id']}"
    # Operation keys are kept for at least 24 hours (design §4).
    assert (row["expires_at"] - row["created_at"]).total_seconds() >= 24 * 3600


async def test_formatting_differences_are_the_same_request(factory, http, db):
    shop = await factory.merchant()
    key = _key()
    body = create_body(currency="VND", amount="150000")
    first = await post_create(http, shop.api_key, body, key)
    assert first.status_code == 201, first.text

    # Same request as validated: integer amount, lower-case currency, other key order.
    reformatted = dict(reversed(list({**body, "amount": 150000, "currency": "vnd"}.items())))
    again = await post_create(http, shop.api_key, reformatted, key)

    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert await payment_request_count(db, shop.id) == 1


async def test_capture_retry_without_a_body_replays_an_empty_body_capture(factory, http, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    first = await shop.command(payment["id"], "capture", key=key)
    assert first.status_code == 200, first.text

    bare = await http.post(
        f"/api/v1/payments/{payment['id']}/capture",
        headers={**shop.headers, "Idempotency-Key": key},
    )

    assert bare.status_code == 200, bare.text
    assert bare.headers[REPLAYED] == "true"
    assert bare.json() == first.json()
    assert len((await sandbox_row(db, payment["id"]))["operations"]) == 1


async def test_declined_capture_is_replayed_as_stored(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    # The gateway's books disagree with ours: it already voided the authorization.
    await execute(
        db,
        "UPDATE sandbox_transactions SET status = 'voided' WHERE payment_reference = :p",
        p=uuid.UUID(payment["id"]),
    )

    first = await shop.command(payment["id"], "capture", key=key)
    again = await shop.command(payment["id"], "capture", key=key)

    assert first.status_code == 402, first.text
    assert error_code(first) == "gateway_declined"
    assert again.status_code == 402
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    captures = await operations(db, payment["id"], "capture")
    assert [operation["status"] for operation in captures] == ["failed"]
    assert captures[0]["attempts"] == 1
    assert (await shop.get(payment["id"]))["status"] == "authorized"
