"""Helpers shared by the payment, merchant-isolation and audit tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from payrelay.kit.db import Database
from tests.factories import MerchantClient

CREATE_PATH = "/api/v1/payments/create"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the API's error body with this status and code; returns `error`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


FOOTPRINT_TABLES = (
    "payment_requests",
    "payment_transactions",
    "payment_operations",
    "payment_logs",
    "idempotency_keys",
)


def assert_validation_error(response: httpx.Response) -> list[dict[str, Any]]:
    """A 422 `validation_error` whose details list the problems as {loc, message, type}."""
    error = assert_error(response, 422, "validation_error")
    details = error["details"]
    assert isinstance(details, list)
    assert details
    for problem in details:
        assert set(problem) == {"loc", "message", "type"}, problem
        assert isinstance(problem["loc"], list)
    return details


async def payment_count(db: Database, merchant_id: uuid.UUID) -> int:
    """How many payment requests the merchant has (created through any path)."""
    async with db.session() as session:
        result = await session.execute(
            text("SELECT count(*) FROM payment_requests WHERE merchant_id = :merchant_id"),
            {"merchant_id": merchant_id},
        )
        return int(result.scalar_one())


async def footprint(db: Database, merchant_id: uuid.UUID) -> dict[str, int]:
    """Row counts of everything a payment command can write for the merchant."""
    counts: dict[str, int] = {}
    async with db.session() as session:
        for table in FOOTPRINT_TABLES:
            result = await session.execute(
                text(f"SELECT count(*) FROM {table} WHERE merchant_id = :merchant_id"),
                {"merchant_id": merchant_id},
            )
            counts[table] = int(result.scalar_one())
    return counts


async def snapshot(shop: MerchantClient, payment_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The payment and its audit trail, to compare before and after a refused command."""
    return await shop.get(payment_id), await shop.events(payment_id)


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_type"] for event in events]


async def post_create(
    shop: MerchantClient,
    *,
    content: bytes | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    path: str = CREATE_PATH,
) -> httpx.Response:
    """POST a create request with raw content or any JSON value, keyed and authenticated."""
    all_headers = {**shop.headers, "Idempotency-Key": shop.new_key(), **(headers or {})}
    if content is not None:
        all_headers.setdefault("Content-Type", "application/json")
        return await shop.http.post(path, content=content, headers=all_headers)
    return await shop.http.post(path, json=json, headers=all_headers)


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": f"order-{uuid.uuid4().hex[:12]}",
        "amount": "150000",
        "currency": "VND",
        "gateway": "sandbox",
    }
    body.update(overrides)
    return body
