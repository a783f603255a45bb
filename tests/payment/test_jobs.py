"""The worker's scheduled jobs, driven with a clock the test controls: expiry, auto-void and
the janitor resolving what no gateway reported — by asking, never by sending again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from payrelay.payment.tasks import auto_void_due, expire_due, janitor
from payrelay.worker.periodic import PeriodicJob, run_job
from tests.idempotency.helpers import (
    SilentGateway,
    account_config,
    create_body,
    operations,
    post_create,
    rows,
    sandbox_row,
    set_base_url,
)

URL = "http://127.0.0.1:9/callbacks"


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


def later(**delta: float):
    moment = datetime.now(UTC) + timedelta(**delta)
    return lambda: moment


async def callback_types(db, payment_id: str) -> list[str]:
    found = await rows(
        db,
        "SELECT event_type FROM payment_callbacks WHERE payment_request_id = :p ORDER BY sequence",
        p=payment_id,
    )
    return [row["event_type"] for row in found]


async def test_a_pending_payment_expires_and_is_cancelled_at_the_gateway(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.created(expires_in=60)
    assert await expire_due(db, gateway_http, settings, later(seconds=30)) == 0
    await expire_due(db, gateway_http, settings, later(seconds=61))
    expired = await shop.get(payment["id"])
    assert expired["status"] == "expired"
    assert expired["next_action"] is None
    assert (await sandbox_row(db, payment["id"]))["status"] == "expired"
    assert await callback_types(db, payment["id"]) == ["payment.expired"]
    refused = await shop.checkout(payment["id"], "succeed")
    assert refused.status_code == 409  # the customer can no longer pay


async def test_a_payment_paid_before_expiry_is_not_expired(factory, db, settings, gateway_http):
    shop = await factory.merchant()
    payment = await shop.created(expires_in=60)
    await shop.checkout(payment["id"], "timeout")  # paid, but the notification is lost
    assert (await shop.get(payment["id"]))["status"] == "pending"
    await expire_due(db, gateway_http, settings, later(seconds=61))
    assert (await shop.get(payment["id"]))["status"] == "captured"


async def test_an_uncaptured_authorization_is_voided_after_seven_days(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized()
    assert await auto_void_due(db, gateway_http, settings, later(days=6)) == 0
    await auto_void_due(db, gateway_http, settings, later(days=7, minutes=1))
    voided = await shop.get(payment["id"])
    assert voided["status"] == "voided"
    assert (await sandbox_row(db, payment["id"]))["status"] == "voided"
    events = await shop.events(payment["id"])
    [requested] = [e for e in events if e["event_type"] == "void.requested"]
    assert requested["actor"] == "system"
    assert await callback_types(db, payment["id"]) == ["payment.authorized", "payment.voided"]


async def test_the_janitor_resolves_a_lost_notification_to_the_true_outcome(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.created(capture_method="manual")
    await shop.checkout(payment["id"], "timeout")
    assert (await shop.get(payment["id"]))["status"] == "pending"
    await janitor(db, gateway_http, settings, later(minutes=5))  # too young to ask about
    assert (await shop.get(payment["id"]))["status"] == "pending"
    await janitor(db, gateway_http, settings, later(minutes=11))
    resolved = await shop.get(payment["id"])
    assert resolved["status"] == "authorized"
    assert resolved["authorized_amount"] == "150000"
    assert "payment.status_checked" in [e["event_type"] for e in await shop.events(payment["id"])]
    assert await callback_types(db, payment["id"]) == ["payment.authorized"]


async def test_the_janitor_backs_off_while_the_gateway_says_pending(
    factory, db, settings, gateway_http
):
    shop = await factory.merchant()
    payment = await shop.created()
    await shop.checkout(payment["id"], "pending")
    now = datetime.now(UTC) + timedelta(minutes=11)
    await janitor(db, gateway_http, settings, lambda: now)
    [row] = await rows(
        db,
        "SELECT status_checks, next_status_check_at FROM payment_transactions "
        "WHERE payment_request_id = :p",
        p=payment["id"],
    )
    assert row["status_checks"] == 1
    assert row["next_status_check_at"] == now + timedelta(minutes=5)
    await janitor(db, gateway_http, settings, lambda: now + timedelta(minutes=1))  # not yet due
    [again] = await rows(
        db, "SELECT status_checks FROM payment_transactions WHERE payment_request_id = :p",
        p=payment["id"],
    )  # fmt: skip
    assert again["status_checks"] == 1
    await janitor(db, gateway_http, settings, lambda: now + timedelta(minutes=6))
    [third] = await rows(
        db,
        "SELECT status_checks, next_status_check_at FROM payment_transactions "
        "WHERE payment_request_id = :p",
        p=payment["id"],
    )
    assert third["status_checks"] == 2
    assert third["next_status_check_at"] == now + timedelta(minutes=6, hours=1)


async def test_an_unknown_capture_the_gateway_never_got_fails_and_can_be_retried(
    factory, db, http, settings, gateway_http
):
    shop = await factory.merchant()
    payment = await shop.authorized()
    silent = await SilentGateway().start()
    try:
        await set_base_url(db, shop.sandbox_account_id, silent.url)
        lost = await shop.command(payment["id"], "capture")
        assert lost.status_code == 504
    finally:
        await set_base_url(db, shop.sandbox_account_id, None)
        await silent.stop()
    [capture] = await operations(db, payment["id"], "capture")
    assert capture["status"] == "unknown"
    await janitor(db, gateway_http, settings, later(minutes=6))
    [capture] = await operations(db, payment["id"], "capture")
    assert capture["status"] == "failed"  # the sandbox has no record of it: nothing happened
    assert (await shop.get(payment["id"]))["status"] == "authorized"
    again = await shop.command(payment["id"], "capture")
    assert again.status_code == 200
    assert again.json()["status"] == "captured"


async def test_a_capture_the_gateway_did_but_we_never_recorded_is_found(
    factory, db, http, settings, gateway_http
):
    """A crash after the gateway captured and before our commit: the janitor finds the
    capture at the gateway by the idempotency key we sent, and records it."""
    shop = await factory.merchant()
    payment = await shop.authorized()
    silent = await SilentGateway().start()
    try:
        await set_base_url(db, shop.sandbox_account_id, silent.url)
        assert (await shop.command(payment["id"], "capture")).status_code == 504
    finally:
        await set_base_url(db, shop.sandbox_account_id, None)
        await silent.stop()
    [capture] = await operations(db, payment["id"], "capture")
    config = await account_config(db, shop.sandbox_account_id)
    done = await http.post(
        f"/sandbox/api/v1/accounts/{shop.sandbox_account_id}/payments/"
        f"{payment['gateway_transaction_id']}/capture",
        json={},
        headers={
            "Authorization": f"Bearer {config['api_key']}",
            "Idempotency-Key": capture["gateway_idempotency_key"],
        },
    )
    assert done.status_code == 200
    await janitor(db, gateway_http, settings, later(minutes=6))
    [capture] = await operations(db, payment["id"], "capture")
    assert capture["status"] == "succeeded"
    captured = await shop.get(payment["id"])
    assert (captured["status"], captured["captured_amount"]) == ("captured", "150000")
    assert len((await sandbox_row(db, payment["id"]))["operations"]) == 1


async def test_a_create_that_never_reached_the_gateway_fails(
    factory, db, http, settings, gateway_http
):
    shop = await factory.merchant()
    silent = await SilentGateway().start()
    try:
        await set_base_url(db, shop.sandbox_account_id, silent.url)
        lost = await post_create(http, shop.api_key, create_body(), "never-arrived")
        assert lost.status_code == 504
    finally:
        await set_base_url(db, shop.sandbox_account_id, None)
        await silent.stop()
    payment_id = lost.json()["error"]["details"]["payment_id"]
    await janitor(db, gateway_http, settings, later(minutes=6))
    failed = await shop.get(payment_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "gateway_unavailable"


async def test_an_exclusive_job_runs_in_one_process_at_a_time(db, settings, gateway_http):
    started = asyncio.Event()
    release = asyncio.Event()
    runs: list[int] = []

    async def slow(*_: object) -> int:
        runs.append(1)
        started.set()
        await release.wait()
        return 0

    job = PeriodicJob("test-exclusive", slow)
    first = asyncio.create_task(run_job(job, db, gateway_http, settings, later()))
    await started.wait()
    assert await run_job(job, db, gateway_http, settings, later()) is False
    release.set()
    assert await first is True
    assert await run_job(job, db, gateway_http, settings, later()) is True
    assert len(runs) == 2
