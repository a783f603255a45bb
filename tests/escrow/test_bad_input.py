"""Refused escrow calls: a clear 4xx with a code, and nothing changed — no escrow row moved, no
audit row, no callback, no idempotency key kept. Keyed releases replay their first answer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from payrelay.kit.db import Database
from tests.escrow.helpers import release, sale
from tests.factories import MerchantClient
from tests.idempotency.helpers import idempotency_key_row, rows
from tests.payment.helpers import assert_error, assert_validation_error

URL = "http://127.0.0.1:9/callbacks"


async def _state(db: Database, shop: MerchantClient, payment_id: str) -> dict[str, Any]:
    """Everything a release could write for this payment."""
    p = uuid.UUID(payment_id)
    return {
        "payment": await shop.get(payment_id),
        "escrow": await rows(
            db,
            """
            SELECT e.* FROM escrow_payments e
            JOIN payment_transactions t ON t.id = e.payment_transaction_id
            WHERE t.payment_request_id = :p
            """,
            p=p,
        ),
        "logs": await rows(db, "SELECT id FROM payment_logs WHERE payment_request_id = :p", p=p),
        "callbacks": await rows(
            db, "SELECT id FROM payment_callbacks WHERE payment_request_id = :p", p=p
        ),
        "keys": await rows(db, "SELECT id FROM idempotency_keys WHERE merchant_id = :m", m=shop.id),
    }


async def _refused(
    db: Database, shop: MerchantClient, payment_id: str, status: int, code: str
) -> dict[str, Any]:
    before = await _state(db, shop, payment_id)
    response = await release(shop, payment_id, key=shop.new_key())
    error = assert_error(response, status, code)
    assert await _state(db, shop, payment_id) == before
    return error


async def test_release_of_a_payment_without_a_seller(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured()
    assert payment["escrow"] is None
    await _refused(db, shop, payment["id"], 422, "not_a_marketplace_payment")


async def test_release_of_a_pending_payment(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.created(**sale())
    error = await _refused(db, shop, payment["id"], 409, "escrow_not_releasable")
    assert error["details"] == {"escrow_status": None, "payment_status": "pending"}


async def test_release_of_an_authorized_payment_not_captured(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized(**sale())
    error = await _refused(db, shop, payment["id"], 409, "escrow_not_releasable")
    assert error["details"] == {"escrow_status": "held", "payment_status": "authorized"}


async def test_release_of_a_voided_payment(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.authorized(**sale())
    assert (await shop.command(payment["id"], "void")).status_code == 200
    error = await _refused(db, shop, payment["id"], 409, "escrow_not_releasable")
    assert error["details"]["escrow_status"] == "cancelled"


async def test_release_of_a_released_payment(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(**sale())
    assert (await release(shop, payment["id"])).status_code == 200
    error = await _refused(db, shop, payment["id"], 409, "escrow_already_released")
    assert error["details"]["escrow_status"] == "released"


async def test_release_of_an_unknown_or_foreign_payment(factory, db):
    shop, other = await factory.merchant(), await factory.merchant()
    foreign = await other.captured(**sale())
    assert_error(await release(shop, str(uuid.uuid4())), 404, "payment_not_found")
    before = await _state(db, other, foreign["id"])
    assert_error(await release(shop, foreign["id"]), 404, "payment_not_found")
    assert await _state(db, other, foreign["id"]) == before


async def test_release_bodies_and_keys_are_validated(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured(**sale())
    before = await _state(db, shop, payment["id"])
    assert_validation_error(await release(shop, payment["id"], unknown="x"))
    assert_validation_error(await release(shop, payment["id"], reason="x" * 501))
    assert_error(await release(shop, payment["id"], key="k" * 256), 400, "idempotency_key_invalid")
    assert_validation_error(await release(shop, "not-a-uuid"))
    assert await _state(db, shop, payment["id"]) == before


async def test_the_same_key_replays_the_first_answer(factory, db):
    shop = await factory.merchant(callback_url=URL)
    payment = await shop.captured(**sale())
    key = shop.new_key()
    first = await release(shop, payment["id"], key=key, reason="delivered")
    assert first.status_code == 200, first.text
    state = await _state(db, shop, payment["id"])

    replay = await release(shop, payment["id"], key=key, reason="delivered")

    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await _state(db, shop, payment["id"]) == state
    reused = await release(shop, payment["id"], key=key, reason="other")
    assert_error(reused, 422, "idempotency_key_reused")
    stored = await idempotency_key_row(db, shop.id, key)
    assert stored is not None
    assert stored["response_status"] == 200


async def test_a_refused_release_keeps_no_key(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized(**sale())
    key = shop.new_key()
    assert (await release(shop, payment["id"], key=key)).status_code == 409
    assert await idempotency_key_row(db, shop.id, key) is None
    # Once captured, the same key may release.
    assert (await shop.command(payment["id"], "capture")).status_code == 200
    assert (await release(shop, payment["id"], key=key)).status_code == 200


async def test_a_seller_without_a_listing_is_refused_at_create(factory, db):
    shop = await factory.merchant()
    response = await shop.create(seller_id="seller-1")
    error = assert_error(response, 422, "listing_required")
    assert error["details"] == {"seller_id": "seller-1"}
    assert await rows(db, "SELECT id FROM payment_requests WHERE merchant_id = :m", m=shop.id) == []


# --- GET /api/v1/escrow ----------------------------------------------------------------------


async def _list(shop: MerchantClient, **params: Any):
    return await shop.http.get("/api/v1/escrow", params=params, headers=shop.headers)


async def test_an_unknown_seller_is_404(factory):
    shop, other = await factory.merchant(), await factory.merchant()
    await other.captured(**sale("seller-of-other"))
    assert_error(await _list(shop, seller_id="nobody"), 404, "seller_not_found")
    assert_error(await _list(shop, seller_id="seller-of-other"), 404, "seller_not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"status": "paid"},
        {"status": ""},
        {"seller_id": "has space"},
        {"seller_id": "x" * 65},
        {"currency": "EURO"},
        {"limit": "0"},
        {"limit": "101"},
    ],
)
async def test_bad_filters_are_422(factory, params):
    shop = await factory.merchant()
    assert_validation_error(await _list(shop, **params))


async def test_an_unknown_currency_and_a_bad_cursor(factory):
    shop = await factory.merchant()
    assert_error(await _list(shop, currency="XYZ"), 422, "unsupported_currency")
    assert_error(await _list(shop, cursor="garbage"), 400, "invalid_cursor")


async def test_the_list_needs_an_api_key(factory):
    shop = await factory.merchant()
    response = await shop.http.get("/api/v1/escrow")
    assert_error(response, 401, "unauthorized")
