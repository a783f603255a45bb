"""Replaying callbacks: the list, one retry through the API, bulk replay from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.callback.receiver import Receiver, Reply
from tests.callback.test_delivery import _callbacks, _settled
from tests.idempotency.helpers import execute


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def _dead_callback(factory, db, receiver):
    receiver.reply(Reply(400))
    shop = await factory.merchant(callback_url=receiver.url)
    payment = await shop.captured()
    [callback] = await _settled(db, payment["id"])
    assert callback.status == "dead"
    return shop, payment, callback


async def test_list_and_retry_a_dead_callback(factory, db, receiver):
    shop, payment, callback = await _dead_callback(factory, db, receiver)
    listed = await shop.http.get(
        "/api/v1/callbacks", params={"status": "dead"}, headers=shop.headers
    )
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    assert item["id"] == str(callback.id)
    assert item["payment_id"] == payment["id"]
    assert (item["status"], item["attempts"], item["response_status"]) == ("dead", 1, 400)
    assert item["payload"]["type"] == "payment.captured"

    retried = await shop.http.post(f"/api/v1/callbacks/{callback.id}/retry", headers=shop.headers)
    assert retried.status_code == 202
    assert retried.json()["status"] in ("pending", "delivering", "delivered")
    [delivered] = await _settled(db, payment["id"])
    assert delivered.status == "delivered"
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]

    by_payment = await shop.http.get(
        "/api/v1/callbacks", params={"payment_id": payment["id"]}, headers=shop.headers
    )
    assert [c["status"] for c in by_payment.json()["data"]] == ["delivered"]


async def test_retry_refuses_what_is_in_flight_and_others_callbacks(factory, db, receiver):
    shop, _payment, callback = await _dead_callback(factory, db, receiver)
    await execute(
        db,
        "UPDATE payment_callbacks SET status = 'pending', "
        "next_retry_at = now() + interval '1 day' WHERE id = :c",
        c=callback.id,
    )
    in_flight = await shop.http.post(f"/api/v1/callbacks/{callback.id}/retry", headers=shop.headers)
    assert in_flight.status_code == 409
    assert in_flight.json()["error"]["code"] == "callback_in_flight"

    other = await factory.merchant()
    foreign = await other.http.post(f"/api/v1/callbacks/{callback.id}/retry", headers=other.headers)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "callback_not_found"
    assert (await other.http.get("/api/v1/callbacks", headers=other.headers)).json()["data"] == []
    unknown = await shop.http.post(f"/api/v1/callbacks/{uuid.uuid4()}/retry", headers=shop.headers)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "lost"}, 422, "validation_error"),
        ({"payment_id": "nope"}, 422, "validation_error"),
        ({"limit": "0"}, 422, "validation_error"),
        ({"cursor": "garbage"}, 400, "invalid_cursor"),
    ],
)
async def test_bad_list_queries(factory, params, status, code):
    shop = await factory.merchant()
    response = await shop.http.get("/api/v1/callbacks", params=params, headers=shop.headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_paging_through_callbacks(factory, db, receiver):
    shop = await factory.merchant(callback_url=receiver.url)
    for _ in range(3):
        await shop.captured()
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await shop.http.get("/api/v1/callbacks", params=params, headers=shop.headers)
        ).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 3


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAYRELAY_DATABASE_URL": database_url, "PAYRELAY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "payrelay", "callbacks", "retry", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_bulk_replay_of_dead_callbacks_from_the_cli(factory, db, receiver, database_url):
    shop, payment, _callback = await _dead_callback(factory, db, receiver)
    refused = _cli(database_url, "--json")
    assert refused.returncode == 2
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    nothing = _cli(database_url, "--dead", "--since", future, "--merchant", str(shop.id), "--json")
    assert json.loads(nothing.stdout) == {"requeued": 0}
    replayed = _cli(database_url, "--dead", "--merchant", str(shop.id), "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == {"requeued": 1}
    [delivered] = await _settled(db, payment["id"])
    assert delivered.status == "delivered"
    assert [c.status for c in await _callbacks(db, payment["id"])] == ["delivered"]
