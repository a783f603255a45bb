"""A merchant sees and touches only its own payments (404, never 403), and every payments
endpoint requires a valid API key (design §8)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from payrelay.kit.db import Database
from tests.factories import Factory, MerchantClient
from tests.payment.helpers import assert_error, create_body, footprint, snapshot


async def as_other(
    other: MerchantClient, method: str, path: str, key: str | None = None
) -> dict[str, Any]:
    """The error `other` gets for a request on someone else's payment (asserted to be a 404)."""
    headers = dict(other.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {} if method == "POST" else None
    response = await other.http.request(method, path, json=body, headers=headers)
    return assert_error(response, 404, "payment_not_found")


def routes(payment_id: str) -> list[tuple[str, str]]:
    base = f"/api/v1/payments/{payment_id}"
    return [
        ("GET", base),
        ("GET", f"{base}/events"),
        ("POST", f"{base}/capture"),
        ("POST", f"{base}/void"),
        ("POST", f"{base}/refund"),
    ]


@pytest.mark.parametrize("state", ["pending", "authorized", "captured"])
async def test_another_merchants_payment_is_not_found_everywhere(
    factory: Factory, db: Database, state: str
) -> None:
    owner = await factory.merchant(name="Owner")
    other = await factory.merchant(name="Other")
    await other.captured()  # the other merchant has payments of its own
    if state == "pending":
        payment = await owner.created()
    elif state == "authorized":
        payment = await owner.authorized()
    else:
        payment = await owner.captured()
    before = await snapshot(owner, payment["id"])
    counts = {owner.id: await footprint(db, owner.id), other.id: await footprint(db, other.id)}

    unknown = {}
    for (method, path), (_, unknown_path) in zip(
        routes(payment["id"]), routes(str(uuid.uuid4())), strict=True
    ):
        error = await as_other(other, method, path)
        # Indistinguishable from a payment that does not exist at all.
        unknown[path] = await as_other(other, method, unknown_path)
        assert error == unknown[path]
        if method == "POST":
            await as_other(other, method, path, key=other.new_key())

    assert await snapshot(owner, payment["id"]) == before
    assert await footprint(db, owner.id) == counts[owner.id]
    assert await footprint(db, other.id) == counts[other.id]

    # The owner still can act on it: nothing was reserved or locked by the attempts.
    if state == "authorized":
        response = await owner.command(payment["id"], "capture")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "captured"
    elif state == "captured":
        response = await owner.command(payment["id"], "refund")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "refunded"


async def test_the_list_shows_only_the_merchants_own_payments(factory: Factory) -> None:
    first = await factory.merchant(name="First")
    second = await factory.merchant(name="Second")
    mine = [await first.created(order_id="shared-order"), await first.captured()]
    theirs = [await second.created(order_id="shared-order"), await second.captured()]

    async def listed(shop: MerchantClient, **params: Any) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": 1}
            if cursor:
                query["cursor"] = cursor
            response = await shop.http.get("/api/v1/payments", params=query, headers=shop.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            ids += [payment["id"] for payment in page["data"]]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return ids

    assert sorted(await listed(first)) == sorted(p["id"] for p in mine)
    assert sorted(await listed(second)) == sorted(p["id"] for p in theirs)
    assert await listed(first, order_id="shared-order") == [mine[0]["id"]]
    assert await listed(second, order_id="shared-order") == [theirs[0]["id"]]
    assert await listed(second, status="captured") == [theirs[1]["id"]]

    # A cursor taken from one merchant's list does not open the other's payments.
    response = await first.http.get("/api/v1/payments", params={"limit": 1}, headers=first.headers)
    cursor = response.json()["next_cursor"]
    assert cursor
    crossed = await second.http.get(
        "/api/v1/payments", params={"cursor": cursor, "limit": 100}, headers=second.headers
    )
    assert crossed.status_code == 200, crossed.text
    crossed_ids = {payment["id"] for payment in crossed.json()["data"]}
    assert crossed_ids <= {p["id"] for p in theirs}


async def test_idempotency_keys_are_per_merchant(factory: Factory, db: Database) -> None:
    first = await factory.merchant()
    second = await factory.merchant()
    key = f"shared-{uuid.uuid4()}"
    one = await first.create(key=key, order_id="same", amount="100")
    two = await second.create(key=key, order_id="same", amount="200")
    assert one.status_code == 201, one.text
    assert two.status_code == 201, two.text
    assert "idempotent-replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]
    assert two.json()["amount"] == "200"
    # Each merchant's replay returns its own payment.
    again = await second.create(key=key, order_id="same", amount="200")
    assert again.status_code == 201
    assert again.json()["id"] == two.json()["id"]
    await as_other(first, "GET", f"/api/v1/payments/{two.json()['id']}")


# --- authentication ------------------------------------------------------------------------------


def all_routes(payment_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/v1/payments/create"),
        ("POST", "/api/v1/payments"),
        ("GET", "/api/v1/payments"),
        *routes(payment_id),
    ]


def bad_authorizations(api_key: str) -> list[dict[str, str]]:
    return [
        {},
        {"Authorization": ""},
        {"Authorization": api_key},
        {"Authorization": f"Basic {api_key}"},
        {"Authorization": f"Token {api_key}"},
        {"Authorization": "Bearer"},
        {"Authorization": 'Bearer ""'},
        {"Authorization": "Bearer not-a-real-key"},
        {"Authorization": f"Bearer {api_key}x"},
        {"Authorization": f"Bearer {api_key[:-1]}"},
        {"X-API-Key": api_key},
    ]


async def test_requests_without_a_valid_api_key_are_unauthorized(
    factory: Factory, db: Database
) -> None:
    shop = await factory.merchant()
    payment = await shop.authorized()
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    for headers in bad_authorizations(shop.api_key):
        for method, path in all_routes(payment["id"]):
            body = create_body() if method == "POST" else None
            response = await shop.http.request(
                method, path, json=body, headers={**headers, "Idempotency-Key": shop.new_key()}
            )
            assert_error(response, 401, "unauthorized")
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts


async def test_missing_credentials_ask_for_a_bearer_token(factory: Factory) -> None:
    shop = await factory.merchant()
    response = await shop.http.get("/api/v1/payments")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unauthenticated_requests_do_not_reveal_whether_a_payment_exists(
    factory: Factory,
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    for method, path in routes(payment["id"]):
        existing = await shop.http.request(method, path)
        missing = await shop.http.request(method, path.replace(payment["id"], str(uuid.uuid4())))
        assert_error(existing, 401, "unauthorized")
        assert existing.json() == missing.json()


async def test_the_scheme_name_is_case_insensitive(factory: Factory) -> None:
    shop = await factory.merchant()
    payment = await shop.created()
    response = await shop.http.get(
        f"/api/v1/payments/{payment['id']}", headers={"Authorization": f"bearer {shop.api_key}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == payment["id"]
