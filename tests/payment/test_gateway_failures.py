"""Gateway failures and crash safety (design §3, §4; reliability.md §1): nothing sent, outcome
unknown, and a crash between the gateway's answer and our commit. A retry with the same
Idempotency-Key always resumes the recorded operation with the same gateway key."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from payrelay.enums import OperationKind
from payrelay.idempotency import service as idempotency_service
from payrelay.models import Merchant
from payrelay.payment import service as payment_service
from payrelay.payment.schemas import CaptureIn, CreatePaymentIn
from tests.idempotency.helpers import (
    SANDBOX_CREATE_ROUTE,
    SilentGateway,
    account_config,
    create_body,
    create_operation,
    error_code,
    event_types,
    execute,
    free_port,
    http_requests,
    idempotency_key_row,
    operations,
    payment_request_count,
    post_create,
    sandbox_row,
    sandbox_rows,
    set_base_url,
)


def _key() -> str:
    return f"fail-{uuid.uuid4()}"


@pytest.fixture
async def silent_gateway():
    gateway = await SilentGateway().start()
    yield gateway
    await gateway.stop()


# --- nothing reached the gateway -------------------------------------------------------------


async def test_unreachable_gateway_answers_502_and_the_retry_creates_the_same_payment(
    factory, http, db
):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    await set_base_url(db, shop.sandbox_account_id, f"http://127.0.0.1:{free_port()}")

    failed = await post_create(http, shop.api_key, body, key)

    assert failed.status_code == 502, failed.text
    assert error_code(failed) == "gateway_unavailable"
    payment_id = failed.json()["error"]["details"]["payment_id"]
    payment = await shop.get(payment_id)
    assert payment["status"] == "pending"
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "pending"
    assert operation["error"] is not None
    assert await sandbox_rows(db, shop.sandbox_account_id) == []
    key_row = await idempotency_key_row(db, shop.id, key)
    assert key_row is not None
    assert key_row["state"] == "in_progress"
    assert key_row["locked_until"] is None  # released: a retry may resume at once

    await set_base_url(db, shop.sandbox_account_id, None)
    retried = await post_create(http, shop.api_key, body, key)

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == payment_id
    assert "Idempotent-Replayed" not in retried.headers
    assert await payment_request_count(db, shop.id) == 1
    ledger = await sandbox_rows(db, shop.sandbox_account_id)
    assert len(ledger) == 1
    assert str(ledger[0]["payment_reference"]) == payment_id
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "succeeded"
    assert ledger[0]["create_idempotency_key"] == operation["gateway_idempotency_key"]
    # Finished now: a further retry replays the 201.
    replay = await post_create(http, shop.api_key, body, key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == retried.json()


async def test_unreachable_gateway_on_capture_keeps_the_payment_authorized(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    await set_base_url(db, shop.sandbox_account_id, f"http://127.0.0.1:{free_port()}")

    failed = await shop.command(payment["id"], "capture", key=key)

    assert failed.status_code == 502, failed.text
    assert error_code(failed) == "gateway_unavailable"
    assert (await shop.get(payment["id"]))["status"] == "authorized"
    captures = await operations(db, payment["id"], "capture")
    assert [operation["status"] for operation in captures] == ["pending"]
    # The pending capture reserves the authorization: a capture under another key must wait.
    other = await shop.command(payment["id"], "capture", key=_key())
    assert other.status_code == 409
    assert error_code(other) == "operation_in_progress"

    await set_base_url(db, shop.sandbox_account_id, None)
    retried = await shop.command(payment["id"], "capture", key=key)

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "captured"
    assert retried.json()["captured_amount"] == "150000"
    ledger = await sandbox_row(db, payment["id"])
    assert [operation["action"] for operation in ledger["operations"]] == ["capture"]
    captures = await operations(db, payment["id"], "capture")
    assert [operation["status"] for operation in captures] == ["succeeded"]
    assert ledger["operations"][0]["idempotency_key"] == captures[0]["gateway_idempotency_key"]


# --- the gateway got the request, its answer was lost -----------------------------------------


async def test_lost_answer_is_504_unknown_and_the_retry_resumes_with_the_same_gateway_key(
    factory, http, db, silent_gateway
):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    await set_base_url(db, shop.sandbox_account_id, silent_gateway.url)

    first = asyncio.create_task(post_create(http, shop.api_key, body, key))
    await asyncio.wait_for(silent_gateway.received.wait(), timeout=10)
    # The first request is still waiting for the gateway: the key is busy.
    busy = await post_create(http, shop.api_key, body, key)
    assert busy.status_code == 409, busy.text
    assert error_code(busy) == "idempotency_key_in_use"
    assert busy.headers.get("Retry-After") == "1"

    unknown = await first

    assert unknown.status_code == 504, unknown.text
    assert error_code(unknown) == "gateway_outcome_unknown"
    payment_id = unknown.json()["error"]["details"]["payment_id"]
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "unknown"
    assert operation["next_check_at"] is not None
    sent_key = silent_gateway.header(0, "Idempotency-Key")
    assert sent_key == operation["gateway_idempotency_key"]
    assert (await shop.get(payment_id))["status"] == "pending"
    assert await payment_request_count(db, shop.id) == 1
    assert "create.unknown" in event_types(await shop.events(payment_id))

    await set_base_url(db, shop.sandbox_account_id, None)
    calls_before = await http_requests(http, SANDBOX_CREATE_ROUTE)
    retried = await post_create(http, shop.api_key, body, key)

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == payment_id
    assert await http_requests(http, SANDBOX_CREATE_ROUTE) - calls_before == 1
    assert await payment_request_count(db, shop.id) == 1
    ledger = await sandbox_rows(db, shop.sandbox_account_id)
    assert len(ledger) == 1
    assert ledger[0]["create_idempotency_key"] == sent_key
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "succeeded"
    assert operation["gateway_idempotency_key"] == sent_key
    assert len(silent_gateway.requests) == 1


async def test_lost_capture_answer_resumes_with_the_same_gateway_key(factory, db, silent_gateway):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    await set_base_url(db, shop.sandbox_account_id, silent_gateway.url)

    unknown = await shop.command(payment["id"], "capture", key=key)

    assert unknown.status_code == 504, unknown.text
    assert error_code(unknown) == "gateway_outcome_unknown"
    captures = await operations(db, payment["id"], "capture")
    assert [operation["status"] for operation in captures] == ["unknown"]
    sent_key = silent_gateway.header(0, "Idempotency-Key")
    assert sent_key == captures[0]["gateway_idempotency_key"]
    assert (await shop.get(payment["id"]))["status"] == "authorized"

    await set_base_url(db, shop.sandbox_account_id, None)
    retried = await shop.command(payment["id"], "capture", key=key)

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "captured"
    ledger = await sandbox_row(db, payment["id"])
    assert [operation["idempotency_key"] for operation in ledger["operations"]] == [sent_key]
    assert [operation["status"] for operation in await operations(db, payment["id"])] == [
        "succeeded",
        "succeeded",
    ]


async def test_unknown_outcome_past_the_gateway_key_window_is_never_resent(factory, http, db):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    await set_base_url(db, shop.sandbox_account_id, f"http://127.0.0.1:{free_port()}")
    failed = await post_create(http, shop.api_key, body, key)
    assert failed.status_code == 502, failed.text
    payment_id = failed.json()["error"]["details"]["payment_id"]
    # Pretend the lost request was sent 25 hours ago: the gateway has forgotten its key.
    await execute(
        db,
        "UPDATE payment_operations SET status = 'unknown', "
        "created_at = now() - interval '25 hours' WHERE id = :o",
        o=(await create_operation(db, payment_id))["id"],
    )
    await set_base_url(db, shop.sandbox_account_id, None)
    calls_before = await http_requests(http, SANDBOX_CREATE_ROUTE)
    attempts_before = (await create_operation(db, payment_id))["attempts"]

    retried = await post_create(http, shop.api_key, body, key)

    assert retried.status_code == 504, retried.text
    assert error_code(retried) == "gateway_outcome_unknown"
    assert retried.json()["error"]["details"]["payment_id"] == payment_id
    assert await http_requests(http, SANDBOX_CREATE_ROUTE) == calls_before
    assert await sandbox_rows(db, shop.sandbox_account_id) == []
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "unknown"
    assert operation["attempts"] == attempts_before  # not counted: nothing was sent


# --- a crash after the gateway answered, before we committed ----------------------------------


async def _crashed_capture(db, shop, payment_id: str, key: str):
    """What a request that crashed after the gateway call leaves behind: a claimed key with
    its recorded operation, and a lease about to be set by the caller."""
    path = f"payments.capture:{payment_id}"
    # What the real endpoint fingerprints for an empty body (CaptureIn with no amount).
    fingerprint = idempotency_service.fingerprint("POST", path, CaptureIn().model_dump(mode="json"))
    assert fingerprint == idempotency_service.fingerprint("POST", path, {"amount": None})
    async with db.transaction() as session:
        merchant = await session.get(Merchant, shop.id)
        assert merchant is not None
        claimed = await idempotency_service.claim(
            session,
            merchant_id=shop.id,
            key=key,
            method="POST",
            path=path,
            request_fingerprint=fingerprint,
            lease=timedelta(seconds=90),
            retention=idempotency_service.OPERATION_KEY_RETENTION,
        )
        assert isinstance(claimed, idempotency_service.Claim)
        target = await payment_service.plan_operation(
            session,
            merchant,
            uuid.UUID(payment_id),
            OperationKind.CAPTURE,
            amount=None,
            reason=None,
            now=datetime.now(UTC),
        )
        await idempotency_service.record_progress(
            session,
            claimed.key.id,
            payment_request_id=target.row.request.id,
            operation_id=target.operation.id,
        )
        return claimed.key.id, target.operation


async def _set_lease(db, key_id, locked_until: datetime) -> None:
    await execute(
        db, "UPDATE idempotency_keys SET locked_until = :t WHERE id = :k", t=locked_until, k=key_id
    )


async def test_crash_after_the_gateway_captured_resumes_without_capturing_twice(factory, http, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    key_id, operation = await _crashed_capture(db, shop, payment["id"], key)
    # The gateway did capture, with the key derived from our operation.
    config = await account_config(db, shop.sandbox_account_id)
    gateway_id = payment["gateway_transaction_id"]
    sent = await http.post(
        f"/sandbox/api/v1/accounts/{shop.sandbox_account_id}/payments/{gateway_id}/capture",
        json={"amount": "150000"},
        headers={
            "Authorization": f"Bearer {config['api_key']}",
            "Idempotency-Key": operation.gateway_idempotency_key,
        },
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["payment"]["status"] == "captured"

    # While the crashed holder's lease runs, the key is busy.
    await _set_lease(db, key_id, datetime.now(UTC) + timedelta(minutes=1))
    busy = await shop.command(payment["id"], "capture", key=key)
    assert busy.status_code == 409, busy.text
    assert error_code(busy) == "idempotency_key_in_use"

    # The lease expired: the retry takes the key over and resumes the recorded operation.
    await _set_lease(db, key_id, datetime.now(UTC) - timedelta(seconds=1))
    resumed = await shop.command(payment["id"], "capture", key=key)

    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "captured"
    assert resumed.json()["captured_amount"] == "150000"
    ledger = await sandbox_row(db, payment["id"])
    assert [op["action"] for op in ledger["operations"]] == ["capture"]
    assert ledger["operations"][0]["idempotency_key"] == operation.gateway_idempotency_key
    assert ledger["captured_amount"] == 150000
    captures = await operations(db, payment["id"], "capture")
    assert len(captures) == 1
    assert captures[0]["id"] == operation.id
    assert captures[0]["status"] == "succeeded"
    events = event_types(await shop.events(payment["id"]))
    assert events.count("capture.requested") == 1
    assert events.count("capture.succeeded") == 1
    assert events.count("payment.captured") == 1
    key_row = await idempotency_key_row(db, shop.id, key)
    assert key_row is not None
    assert key_row["state"] == "completed"
    # And from now on the key replays.
    replay = await shop.command(payment["id"], "capture", key=key)
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == resumed.json()


async def test_crash_before_the_gateway_was_called_resumes_and_captures_once(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()
    key = _key()
    key_id, operation = await _crashed_capture(db, shop, payment["id"], key)
    await _set_lease(db, key_id, datetime.now(UTC) - timedelta(seconds=1))

    resumed = await shop.command(payment["id"], "capture", key=key)

    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "captured"
    ledger = await sandbox_row(db, payment["id"])
    assert [op["idempotency_key"] for op in ledger["operations"]] == [
        operation.gateway_idempotency_key
    ]
    assert len(await operations(db, payment["id"], "capture")) == 1


async def test_crash_after_the_gateway_created_the_payment_resumes_the_create(
    factory, http, db, settings
):
    shop = await factory.merchant()
    key, body = _key(), create_body()
    parsed = CreatePaymentIn.model_validate(body)
    fingerprint = idempotency_service.fingerprint(
        "POST", "payments.create", parsed.model_dump(mode="json", exclude={"idempotency_key"})
    )
    async with db.transaction() as session:
        merchant = await session.get(Merchant, shop.id)
        assert merchant is not None
        claimed = await idempotency_service.claim(
            session,
            merchant_id=shop.id,
            key=key,
            method="POST",
            path="payments.create",
            request_fingerprint=fingerprint,
            lease=timedelta(seconds=90),
            retention=None,
        )
        assert isinstance(claimed, idempotency_service.Claim)
        target = await payment_service.create_draft(
            session,
            merchant,
            parsed,
            idempotency_key=key,
            fingerprint=fingerprint,
            options=payment_service.CreateOptions(
                allow_private_callbacks=True,
                duplicate_charge_window=timedelta(minutes=5),
                default_expires_in=timedelta(hours=1),
            ),
            now=datetime.now(UTC),
        )
        await idempotency_service.record_progress(
            session,
            claimed.key.id,
            payment_request_id=target.row.request.id,
            operation_id=target.operation.id,
        )
    payment_id = str(target.row.request.id)
    config = await account_config(db, shop.sandbox_account_id)
    sent = await http.post(
        f"/sandbox/api/v1/accounts/{shop.sandbox_account_id}/payments",
        json={
            "payment_reference": payment_id,
            "order_reference": target.row.transaction.order_reference,
            "amount": "150000",
            "currency": "VND",
            "capture_method": "automatic",
            "notify_url": (
                f"{settings.resolved_public_url()}/webhooks/sandbox/{shop.sandbox_account_id}"
            ),
        },
        headers={
            "Authorization": f"Bearer {config['api_key']}",
            "Idempotency-Key": target.operation.gateway_idempotency_key,
        },
    )
    assert sent.status_code == 201, sent.text
    await _set_lease(db, claimed.key.id, datetime.now(UTC) - timedelta(seconds=1))

    resumed = await post_create(http, shop.api_key, body, key)

    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] == payment_id
    assert resumed.json()["gateway_transaction_id"] == sent.json()["id"]
    assert await payment_request_count(db, shop.id) == 1
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1
    operation = await create_operation(db, payment_id)
    assert operation["status"] == "succeeded"
    assert operation["attempts"] == 1
