"""The PayPal emulator refuses what PayPal refuses, with PayPal's error shapes and codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payrelay.connectors.paypal.emulator import create_app
from payrelay.connectors.paypal.emulator_state import CLIENT_ID, CLIENT_SECRET, Options

ORDER = {
    "intent": "AUTHORIZE",
    "purchase_units": [{"amount": {"currency_code": "USD", "value": "100.00"}}],
    "payment_source": {"paypal": {"experience_context": {"return_url": "https://shop/r"}}},
}


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.token = http, token
        self.count = 0

    async def post(
        self, path: str, body: Any = None, request_id: str | None = None
    ) -> httpx.Response:
        self.count += 1
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Prefer": "return=representation",
            "PayPal-Request-Id": request_id or f"req-{self.count}",
        }
        return await self.http.post(path, json=body or {}, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {self.token}"})

    async def authorized(self, value: str = "100.00") -> str:
        unit = {"amount": {"currency_code": "USD", "value": value}}
        order = (await self.post("/v2/checkout/orders", {**ORDER, "purchase_units": [unit]})).json()
        await self.http.post(f"/_emulator/orders/{order['id']}/approve", json={})
        answer = (await self.post(f"/v2/checkout/orders/{order['id']}/authorize")).json()
        authorization_id: str = answer["purchase_units"][0]["payments"]["authorizations"][0]["id"]
        return authorization_id


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app({})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://paypal.test"
    ) as http:
        token = await http.post(
            "/v1/oauth2/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
        )
        yield Client(http, token.json()["access_token"])


def issue(response: httpx.Response) -> str:
    issue: str = response.json()["details"][0]["issue"]
    return issue


async def test_tokens(client):
    http = client.http
    bad = await http.post("/v1/oauth2/token", auth=(CLIENT_ID, "wrong"), data={"grant_type": "x"})
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")
    grant = await http.post(
        "/v1/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET), data={"grant_type": "password"}
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    good = await http.post(
        "/v1/oauth2/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
    )
    assert good.json()["token_type"] == "Bearer"
    assert good.json()["expires_in"] == 32400
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        refused = await http.post("/v2/checkout/orders", json=ORDER, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["name"] == "AUTHENTICATION_FAILURE"
    await http.post("/_emulator/clock", json={"advance_seconds": 32401})
    expired = await client.post("/v2/checkout/orders", ORDER)
    assert expired.status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "expected"),
    [
        ({"intent": "SALE"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"purchase_units": []}, 400, "MISSING_REQUIRED_PARAMETER"),
        ({"value": "10.001"}, 422, "DECIMAL_PRECISION"),
        ({"value": "abc"}, 400, "INVALID_PARAMETER_SYNTAX"),
        ({"value": "0.00"}, 422, "CANNOT_BE_ZERO_OR_NEGATIVE"),
        ({"currency_code": "RSD"}, 422, "CURRENCY_NOT_SUPPORTED"),
        ({"currency_code": "JPY", "value": "100.50"}, 422, "DECIMALS_NOT_SUPPORTED"),
        ({"payment_source": {"paypal": {"experience_context": {}}}}, 400,
         "MISSING_REQUIRED_PARAMETER"),
    ],
)  # fmt: skip
async def test_create_is_validated(client, change, status, expected):
    amount = {"currency_code": "USD", "value": "100.00"}
    amount.update({k: v for k, v in change.items() if k in amount})
    body = {**ORDER, "purchase_units": [{"amount": amount}]}
    body.update({k: v for k, v in change.items() if k not in amount})
    refused = await client.post("/v2/checkout/orders", body)
    assert refused.status_code == status, refused.text
    assert issue(refused) == expected
    expected_name = "INVALID_REQUEST" if status == 400 else "UNPROCESSABLE_ENTITY"
    assert refused.json()["name"] == expected_name
    assert refused.json()["debug_id"]


async def test_an_order_is_approved_before_it_is_completed(client):
    order = (await client.post("/v2/checkout/orders", ORDER)).json()
    assert [link["rel"] for link in order["links"]] == ["self", "approve", "update", "authorize"]
    early = await client.post(f"/v2/checkout/orders/{order['id']}/authorize")
    assert (early.status_code, issue(early)) == (422, "ORDER_NOT_APPROVED")
    wrong = await client.post(f"/v2/checkout/orders/{order['id']}/capture")
    assert issue(wrong) == "ACTION_DOES_NOT_MATCH_INTENT"
    await client.http.post(f"/_emulator/orders/{order['id']}/approve", json={})
    done = await client.post(f"/v2/checkout/orders/{order['id']}/authorize", request_id="auth-1")
    assert done.status_code == 201
    replay = await client.post(f"/v2/checkout/orders/{order['id']}/authorize", request_id="auth-1")
    assert replay.status_code == 200  # replay_status
    assert replay.json() == done.json()
    twice = await client.post(f"/v2/checkout/orders/{order['id']}/authorize")
    assert issue(twice) == "ORDER_ALREADY_AUTHORIZED"
    missing = await client.get("/v2/checkout/orders/NOPE")
    assert (missing.status_code, missing.json()["name"]) == (404, "RESOURCE_NOT_FOUND")


async def test_captures_stay_within_the_authorization(client):
    auth = await client.authorized("100.00")
    path = f"/v2/payments/authorizations/{auth}/capture"
    over = await client.post(path, {"amount": {"currency_code": "USD", "value": "100.01"}})
    assert issue(over) == "MAX_CAPTURE_AMOUNT_EXCEEDED"
    currency = await client.post(path, {"amount": {"currency_code": "EUR", "value": "1.00"}})
    assert issue(currency) == "AUTH_CAPTURE_CURRENCY_MISMATCH"
    first = await client.post(path, {"amount": {"currency_code": "USD", "value": "40.00"}})
    assert (first.status_code, first.json()["status"]) == (201, "COMPLETED")
    shown = (await client.get(f"/v2/payments/authorizations/{auth}")).json()
    assert shown["status"] == "PARTIALLY_CAPTURED"
    rest = await client.post(path, {"invoice_id": "inv-1"})  # no amount: what is left
    assert rest.json()["amount"]["value"] == "60.00"
    again = await client.post(path, {"invoice_id": "inv-2"})
    assert issue(again) == "AUTHORIZATION_ALREADY_CAPTURED"
    void = await client.post(f"/v2/payments/authorizations/{auth}/void")
    assert issue(void) == "PREVIOUSLY_CAPTURED"


async def test_refunds_stay_within_the_capture(client):
    auth = await client.authorized("50.00")
    capture = (await client.post(f"/v2/payments/authorizations/{auth}/capture")).json()
    path = f"/v2/payments/captures/{capture['id']}/refund"
    over = await client.post(path, {"amount": {"currency_code": "USD", "value": "50.01"}})
    assert issue(over) == "REFUND_AMOUNT_EXCEEDED"
    part = await client.post(path, {"amount": {"currency_code": "USD", "value": "20.00"}})
    assert part.status_code == 201
    rest = await client.post(path)  # empty body: the rest
    assert rest.json()["amount"]["value"] == "30.00"
    shown = (await client.get(f"/v2/payments/captures/{capture['id']}")).json()
    assert shown["status"] == "REFUNDED"
    done = await client.post(path, {"amount": {"currency_code": "USD", "value": "1.00"}})
    assert issue(done) == "CAPTURE_FULLY_REFUNDED"


async def test_voids_and_expired_authorizations(client):
    auth = await client.authorized()
    voided = await client.post(f"/v2/payments/authorizations/{auth}/void")
    assert (voided.status_code, voided.json()["status"]) == (200, "VOIDED")
    again = await client.post(f"/v2/payments/authorizations/{auth}/void")
    assert issue(again) == "PREVIOUSLY_VOIDED"
    old = await client.authorized()
    await client.http.post("/_emulator/clock", json={"advance_seconds": 30 * 86400})
    client.token = (
        await client.http.post(
            "/v1/oauth2/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
        )
    ).json()["access_token"]
    late = await client.post(f"/v2/payments/authorizations/{old}/capture")
    assert issue(late) == "AUTHORIZATION_VOIDED"  # voided at the end of its validity
    events = (await client.http.get("/_emulator/events")).json()
    assert [e["event_type"] for e in events].count("PAYMENT.AUTHORIZATION.VOIDED") == 2


async def test_a_repeated_request_id_in_flight_is_a_conflict(client):
    auth = await client.authorized()
    await client.http.post("/_emulator/faults", json={"operation": "capture", "mode": "hang"})
    path = f"/v2/payments/authorizations/{auth}/capture"
    slow = asyncio.ensure_future(client.post(path, request_id="cap-1"))
    await asyncio.sleep(0.1)
    conflict = await client.post(path, request_id="cap-1")
    assert conflict.status_code == 409
    assert issue(conflict) == "PREVIOUS_REQUEST_IN_PROGRESS"
    slow.cancel()


def test_options():
    assert Options.parse({"replay_status": "201"}).replay_status == 201
    for bad in ({"nope": "1"}, {"replay_status": "202"}, {"create_status": "X"},
                {"max_refunds": "many"}):  # fmt: skip
        with pytest.raises(ValueError, match="paypal emulator option"):
            Options.parse(bad)
