"""Bad input of every kind gets a 4xx with a stable error code and changes nothing (design §8)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from tests.factories import Factory, MerchantClient
from tests.payment.helpers import (
    assert_error,
    assert_validation_error,
    create_body,
    footprint,
    payment_count,
    post_create,
    snapshot,
)

MISSING = object()


def body_with(**changes: Any) -> dict[str, Any]:
    """A valid create body with fields replaced, or removed when set to MISSING."""
    body = create_body()
    for name, value in changes.items():
        if value is MISSING:
            body.pop(name, None)
        else:
            body[name] = value
    return body


# --- create: schema violations ----------------------------------------------------------------

SCHEMA_CASES = [
    # missing required fields
    pytest.param({"order_id": MISSING}, "order_id", id="missing-order_id"),
    pytest.param({"amount": MISSING}, "amount", id="missing-amount"),
    pytest.param({"currency": MISSING}, "currency", id="missing-currency"),
    # amounts: floats, booleans, negative and non-numeric strings, other types
    pytest.param({"amount": 12.5}, "amount", id="amount-float"),
    pytest.param({"amount": 150000.0}, "amount", id="amount-whole-float"),
    pytest.param({"amount": True}, "amount", id="amount-true"),
    pytest.param({"amount": False}, "amount", id="amount-false"),
    pytest.param({"amount": "-5"}, "amount", id="amount-negative-string"),
    pytest.param({"amount": "-0.01"}, "amount", id="amount-negative-fraction"),
    pytest.param({"amount": -5}, "amount", id="amount-negative-integer"),
    pytest.param({"amount": "abc"}, "amount", id="amount-word"),
    pytest.param({"amount": ""}, "amount", id="amount-empty"),
    pytest.param({"amount": "1e5"}, "amount", id="amount-exponent"),
    pytest.param({"amount": "1,000"}, "amount", id="amount-comma"),
    pytest.param({"amount": "NaN"}, "amount", id="amount-nan"),
    pytest.param({"amount": "Infinity"}, "amount", id="amount-infinity"),
    pytest.param({"amount": "10."}, "amount", id="amount-trailing-dot"),
    pytest.param({"amount": None}, "amount", id="amount-null"),
    pytest.param({"amount": ["100"]}, "amount", id="amount-list"),
    pytest.param({"amount": {"value": "100"}}, "amount", id="amount-object"),
    pytest.param({"amount": "1" * 16}, "amount", id="amount-too-many-digits"),
    pytest.param({"amount": 10**16}, "amount", id="amount-integer-too-large"),
    # currencies
    pytest.param({"currency": "XYZ"}, "currency", id="currency-not-iso"),
    pytest.param({"currency": "US"}, "currency", id="currency-two-letters"),
    pytest.param({"currency": "USDX"}, "currency", id="currency-four-letters"),
    pytest.param({"currency": "840"}, "currency", id="currency-numeric-code"),
    pytest.param({"currency": 840}, "currency", id="currency-integer"),
    pytest.param({"currency": "XAU"}, "currency", id="currency-metal"),
    # wrong types and values of other fields
    pytest.param({"order_id": 12345}, "order_id", id="order_id-integer"),
    pytest.param({"order_id": ""}, "order_id", id="order_id-empty"),
    pytest.param({"order_id": "x" * 256}, "order_id", id="order_id-too-long"),
    pytest.param({"gateway": 7}, "gateway", id="gateway-integer"),
    pytest.param({"capture_method": "later"}, "capture_method", id="capture_method-unknown"),
    pytest.param({"user_id": "has spaces"}, "user_id", id="user_id-pattern"),
    pytest.param({"customer_email": "not-an-email"}, "customer_email", id="email-invalid"),
    pytest.param({"description": "d" * 1001}, "description", id="description-too-long"),
    pytest.param({"metadata": ["a", "b"]}, "metadata", id="metadata-list"),
    pytest.param({"metadata": {"nested": {"a": 1}}}, "metadata", id="metadata-nested"),
    pytest.param({"metadata": {f"k{n}": n for n in range(51)}}, "metadata", id="metadata-51"),
    # expires_in bounds: 60 seconds to 7 days
    pytest.param({"expires_in": 59}, "expires_in", id="expires_in-59"),
    pytest.param({"expires_in": 0}, "expires_in", id="expires_in-0"),
    pytest.param({"expires_in": -60}, "expires_in", id="expires_in-negative"),
    pytest.param({"expires_in": 604801}, "expires_in", id="expires_in-604801"),
    pytest.param({"expires_in": "soon"}, "expires_in", id="expires_in-string"),
    pytest.param({"expires_in": 120.5}, "expires_in", id="expires_in-fraction"),
    # URLs: http(s) only
    pytest.param({"callback_url": "ftp://example.com/cb"}, "callback_url", id="callback-ftp"),
    pytest.param({"callback_url": "javascript:alert(1)"}, "callback_url", id="callback-js"),
    pytest.param({"callback_url": "file:///etc/passwd"}, "callback_url", id="callback-file"),
    pytest.param({"callback_url": "not a url at all"}, "callback_url", id="callback-text"),
    pytest.param({"return_url": "ftp://example.com/back"}, "return_url", id="return_url-ftp"),
    # unknown fields are forbidden
    pytest.param({"unknown_field": 1}, "unknown_field", id="extra-field"),
    pytest.param({"Amount": "100"}, "Amount", id="extra-field-case"),
    pytest.param({"merchant_id": str(uuid.uuid4())}, "merchant_id", id="extra-merchant_id"),
    pytest.param({"status": "captured"}, "status", id="extra-status"),
]


@pytest.mark.parametrize(("changes", "field"), SCHEMA_CASES)
async def test_create_schema_violations(
    factory: Factory, db: Database, changes: dict[str, Any], field: str
) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    response = await post_create(shop, json=body_with(**changes))
    details = assert_validation_error(response)
    assert any(field in problem["loc"] for problem in details), details
    assert await footprint(db, shop.id) == before
    assert await payment_count(db, shop.id) == 0


# --- create: rule violations (valid JSON that breaks a rule) ------------------------------------

RULE_CASES = [
    pytest.param({"amount": "0"}, "invalid_amount", id="zero-vnd"),
    pytest.param({"amount": 0}, "invalid_amount", id="zero-integer"),
    pytest.param({"amount": "0.00", "currency": "USD"}, "invalid_amount", id="zero-usd"),
    pytest.param({"amount": "0.000", "currency": "KWD"}, "invalid_amount", id="zero-kwd"),
    pytest.param({"amount": "1.5"}, "amount_too_precise", id="precise-vnd"),
    pytest.param({"amount": "150000.01"}, "amount_too_precise", id="precise-vnd-cents"),
    pytest.param({"amount": "10.505", "currency": "USD"}, "amount_too_precise", id="precise-usd"),
    pytest.param({"amount": "0.001", "currency": "EUR"}, "amount_too_precise", id="precise-eur"),
    pytest.param({"amount": "1250.505", "currency": "RSD"}, "amount_too_precise", id="prec-rsd"),
    pytest.param({"amount": "100.5", "currency": "JPY"}, "amount_too_precise", id="precise-jpy"),
    pytest.param({"amount": "1.2345", "currency": "KWD"}, "amount_too_precise", id="prec-kwd"),
    pytest.param({"amount": "0.0001", "currency": "KWD"}, "amount_too_precise", id="tiny-kwd"),
    pytest.param({"gateway": "nope"}, "unknown_gateway", id="gateway-unknown"),
    pytest.param({"gateway": "adyen"}, "unknown_gateway", id="gateway-not-registered"),
    pytest.param({"gateway": "SANDBOX"}, "unknown_gateway", id="gateway-wrong-case"),
    pytest.param({"gateway": MISSING}, "unknown_gateway", id="gateway-missing"),
]


@pytest.mark.parametrize(("changes", "code"), RULE_CASES)
async def test_create_rule_violations(
    factory: Factory, db: Database, changes: dict[str, Any], code: str
) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    key = shop.new_key()
    response = await post_create(shop, json=body_with(**changes), headers={"Idempotency-Key": key})
    assert_error(response, 422, code)
    assert await footprint(db, shop.id) == before
    # The refused request left nothing behind, not even its idempotency key.
    retry = await post_create(shop, json=create_body(), headers={"Idempotency-Key": key})
    assert retry.status_code == 201, retry.text
    assert await payment_count(db, shop.id) == 1


async def test_create_with_a_gateway_the_merchant_has_not_configured(
    factory: Factory, db: Database
) -> None:
    async with db.transaction() as session:
        created = await merchant_service.create_merchant(
            session,
            name="No gateway shop",
            callback_url=None,
            commission_rate=Decimal("0.05"),
            allow_private_callbacks=True,
        )
    shop = MerchantClient(
        id=created.merchant.id,
        api_key=created.api_key,
        callback_secret=created.merchant.callback_secret,
        sandbox_account_id=0,
        http=factory.http,
    )
    before = await footprint(db, shop.id)
    error = assert_error(await shop.create(), 422, "gateway_not_configured")
    assert "sandbox" in error["message"]
    assert await footprint(db, shop.id) == before
    assert await payment_count(db, shop.id) == 0
    # An unknown gateway is still reported as unknown, not as unconfigured.
    assert_error(await shop.create(gateway="nope"), 422, "unknown_gateway")


# --- create: broken bodies, headers and sizes ---------------------------------------------------

RAW_CASES = [
    pytest.param(b'{"order_id": "x", "amount": ', "application/json", 400, id="truncated-json"),
    pytest.param(b"{'order_id': 'x'}", "application/json", 400, id="single-quotes"),
    pytest.param(b'{"order_id": "x",}', "application/json", 400, id="trailing-comma"),
    pytest.param(b"{order_id: x}", "application/json", 400, id="bare-words"),
    pytest.param(b"\xff\xfe\x00\x01", "application/json", 400, id="utf16-bom-garbage"),
    pytest.param(b'{"order_id": "\xff"}', "application/json", 400, id="invalid-utf8"),
    pytest.param(b"[" * 30000 + b"]" * 30000, "application/json", 400, id="nested-too-deep"),
    pytest.param(b"[]", "application/json", 422, id="json-array"),
    pytest.param(b'"a string"', "application/json", 422, id="json-string"),
    pytest.param(b"42", "application/json", 422, id="json-number"),
    pytest.param(b"null", "application/json", 422, id="json-null"),
    pytest.param(b"{}", "application/json", 422, id="empty-object"),
    pytest.param(b"", "application/json", 422, id="empty-body"),
    pytest.param(b"order_id=x&amount=1", "application/x-www-form-urlencoded", 422, id="form"),
    pytest.param(json.dumps(create_body()).encode(), "text/plain", 422, id="json-as-text"),
]


@pytest.mark.parametrize(("content", "content_type", "status"), RAW_CASES)
async def test_create_with_a_broken_body(
    factory: Factory, db: Database, content: bytes, content_type: str, status: int
) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    response = await post_create(shop, content=content, headers={"Content-Type": content_type})
    if status == 400:
        assert_error(response, 400, "malformed_json")
    else:
        assert_validation_error(response)
    assert await footprint(db, shop.id) == before


async def test_create_with_an_oversized_body(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    body = body_with(description="x" * (70 * 1024))
    error = assert_error(await post_create(shop, json=body), 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 64 * 1024}
    assert await footprint(db, shop.id) == before


async def test_create_with_an_oversized_streamed_body(factory: Factory, db: Database) -> None:
    """Without a Content-Length the limit applies while the body is read."""
    shop = await factory.merchant()
    before = await footprint(db, shop.id)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"order_id": "big", "amount": "1", "currency": "VND", "description": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    response = await shop.http.post(
        "/api/v1/payments/create",
        content=chunks(),
        headers={
            **shop.headers,
            "Idempotency-Key": shop.new_key(),
            "Content-Type": "application/json",
        },
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")
    assert await footprint(db, shop.id) == before


async def test_a_body_just_under_the_limit_is_read(factory: Factory, db: Database) -> None:
    """The size limit is not a blanket refusal: 60 KiB of JSON reaches validation."""
    shop = await factory.merchant()
    response = await post_create(shop, json=body_with(description="x" * (60 * 1024)))
    details = assert_validation_error(response)
    assert any("description" in problem["loc"] for problem in details)
    assert await payment_count(db, shop.id) == 0


async def test_create_without_an_idempotency_key(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    response = await shop.http.post(
        "/api/v1/payments/create", json=create_body(), headers=shop.headers
    )
    assert_error(response, 400, "idempotency_key_missing")
    alias = await shop.http.post("/api/v1/payments", json=create_body(), headers=shop.headers)
    assert_error(alias, 400, "idempotency_key_missing")
    assert await footprint(db, shop.id) == before


async def test_create_with_conflicting_idempotency_keys(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    response = await post_create(
        shop, json=body_with(idempotency_key="body-key"), headers={"Idempotency-Key": "header-key"}
    )
    assert_error(response, 400, "idempotency_key_invalid")
    assert await footprint(db, shop.id) == before


@pytest.mark.parametrize("key", ["k" * 256, "tab\there", "ключ"])
async def test_create_with_a_malformed_idempotency_key(
    factory: Factory, db: Database, key: str
) -> None:
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    response = await post_create(shop, json=body_with(idempotency_key=key), headers={})
    assert_error(response, 400, "idempotency_key_invalid")
    assert await footprint(db, shop.id) == before


# --- commands ----------------------------------------------------------------------------------


async def in_state(shop: MerchantClient, state: str, **overrides: Any) -> dict[str, Any]:
    """A payment of this merchant in the given status."""
    if state == "pending":
        return await shop.created(**overrides)
    if state == "authorized":
        return await shop.authorized(**overrides)
    if state == "captured":
        return await shop.captured(**overrides)
    if state == "failed":
        payment = await shop.created(**overrides)
        assert (await shop.checkout(payment["id"], "decline")).status_code == 200
    elif state == "voided":
        payment = await shop.authorized(**overrides)
        assert (await shop.command(payment["id"], "void")).status_code == 200
    elif state == "partially_refunded":
        payment = await shop.captured(**overrides)
        half = str(Decimal(payment["amount"]) / 2)
        response = await shop.command(payment["id"], "refund", {"amount": half})
        assert response.status_code == 200, response.text
    elif state == "refunded":
        payment = await shop.captured(**overrides)
        assert (await shop.command(payment["id"], "refund")).status_code == 200
    else:
        raise AssertionError(state)
    result = await shop.get(payment["id"])
    assert result["status"] == state
    return result


ILLEGAL = [
    ("pending", "capture"),
    ("captured", "capture"),
    ("partially_refunded", "capture"),
    ("refunded", "capture"),
    ("voided", "capture"),
    ("failed", "capture"),
    ("pending", "void"),
    ("captured", "void"),
    ("partially_refunded", "void"),
    ("refunded", "void"),
    ("voided", "void"),
    ("failed", "void"),
    ("pending", "refund"),
    ("authorized", "refund"),
    ("voided", "refund"),
    ("failed", "refund"),
    ("refunded", "refund"),
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
async def test_illegal_transitions_change_nothing(
    factory: Factory, db: Database, state: str, action: str, with_key: bool
) -> None:
    shop = await factory.merchant()
    payment = await in_state(shop, state)
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    key = shop.new_key() if with_key else None
    error = assert_error(
        await shop.command(payment["id"], action, key=key), 409, "illegal_transition"
    )
    assert error["details"] == {"status": state}
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts


CAPTURE_CASES = [
    pytest.param({"amount": 12.5}, 422, "validation_error", id="float"),
    pytest.param({"amount": True}, 422, "validation_error", id="boolean"),
    pytest.param({"amount": "-1.00"}, 422, "validation_error", id="negative"),
    pytest.param({"amount": "ten"}, 422, "validation_error", id="word"),
    pytest.param({"amount": ""}, 422, "validation_error", id="empty"),
    pytest.param({"reason": "capture has no reason"}, 422, "validation_error", id="extra-reason"),
    pytest.param({"amount": "5.00", "extra": 1}, 422, "validation_error", id="extra-field"),
    pytest.param({"amount": "0"}, 422, "invalid_amount", id="zero"),
    pytest.param({"amount": "0.00"}, 422, "invalid_amount", id="zero-cents"),
    pytest.param({"amount": "1.001"}, 422, "amount_too_precise", id="too-precise"),
    pytest.param({"amount": "10.51"}, 422, "capture_exceeds_authorized", id="over-by-a-cent"),
    pytest.param({"amount": "1000"}, 422, "capture_exceeds_authorized", id="far-over"),
]


@pytest.mark.parametrize(("body", "status", "code"), CAPTURE_CASES)
async def test_bad_capture_changes_nothing(
    factory: Factory, db: Database, body: dict[str, Any], status: int, code: str
) -> None:
    shop = await factory.merchant()
    payment = await shop.authorized(amount="10.50", currency="USD")
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    response = await shop.command(payment["id"], "capture", body)
    if code == "validation_error":
        assert_validation_error(response)
    else:
        assert_error(response, status, code)
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts
    # The payment can still be captured in full afterwards.
    captured = await shop.command(payment["id"], "capture")
    assert captured.status_code == 200, captured.text
    assert captured.json()["captured_amount"] == "10.50"


@pytest.mark.parametrize(
    ("currency", "amount", "too_precise"),
    [("JPY", "5000", "100.5"), ("KWD", "1.250", "0.0005"), ("VND", "150000", "1.5")],
)
async def test_capture_and_refund_amounts_follow_the_currency(
    factory: Factory, currency: str, amount: str, too_precise: str
) -> None:
    shop = await factory.merchant()
    authorized = await shop.authorized(amount=amount, currency=currency)
    before = await snapshot(shop, authorized["id"])
    response = await shop.command(authorized["id"], "capture", {"amount": too_precise})
    assert_error(response, 422, "amount_too_precise")
    assert await snapshot(shop, authorized["id"]) == before

    captured = await shop.captured(amount=amount, currency=currency)
    before = await snapshot(shop, captured["id"])
    response = await shop.command(captured["id"], "refund", {"amount": too_precise})
    assert_error(response, 422, "amount_too_precise")
    assert await snapshot(shop, captured["id"]) == before


REFUND_CASES = [
    pytest.param({"amount": 1.5}, 422, "validation_error", id="float"),
    pytest.param({"amount": False}, 422, "validation_error", id="boolean"),
    pytest.param({"amount": "-1.00"}, 422, "validation_error", id="negative"),
    pytest.param({"amount": "1.00.0"}, 422, "validation_error", id="two-dots"),
    pytest.param({"reason": 5}, 422, "validation_error", id="reason-integer"),
    pytest.param({"reason": "r" * 501}, 422, "validation_error", id="reason-too-long"),
    pytest.param({"amount": "1.00", "note": "x"}, 422, "validation_error", id="extra-field"),
    pytest.param({"amount": "0"}, 422, "invalid_amount", id="zero"),
    pytest.param({"amount": "0.001"}, 422, "amount_too_precise", id="too-precise"),
    pytest.param({"amount": "10.51"}, 422, "refund_exceeds_captured", id="over-by-a-cent"),
    pytest.param({"amount": "99999"}, 422, "refund_exceeds_captured", id="far-over"),
]


@pytest.mark.parametrize(("body", "status", "code"), REFUND_CASES)
async def test_bad_refund_changes_nothing(
    factory: Factory, db: Database, body: dict[str, Any], status: int, code: str
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured(amount="10.50", currency="USD")
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    response = await shop.command(payment["id"], "refund", body)
    if code == "validation_error":
        assert_validation_error(response)
    else:
        assert_error(response, status, code)
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts


async def test_over_refund_after_partial_refunds(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    payment = await shop.captured(amount="100.00", currency="USD")
    for amount in ("30.00", "45.00"):
        response = await shop.command(payment["id"], "refund", {"amount": amount})
        assert response.status_code == 200, response.text
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    error = assert_error(
        await shop.command(payment["id"], "refund", {"amount": "25.01"}),
        422,
        "refund_exceeds_captured",
    )
    assert Decimal(error["details"]["refunded"]) == Decimal("75.00")
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts
    last = await shop.command(payment["id"], "refund", {"amount": "25.00"})
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "refunded"


VOID_CASES = [
    pytest.param({"amount": "1.00"}, id="amount-not-accepted"),
    pytest.param({"reason": "r" * 501}, id="reason-too-long"),
    pytest.param({"reason": ["a"]}, id="reason-list"),
]


@pytest.mark.parametrize("body", VOID_CASES)
async def test_bad_void_changes_nothing(
    factory: Factory, db: Database, body: dict[str, Any]
) -> None:
    shop = await factory.merchant()
    payment = await shop.authorized()
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    assert_validation_error(await shop.command(payment["id"], "void", body))
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts


@pytest.mark.parametrize("action", ["capture", "void", "refund"])
@pytest.mark.parametrize(
    ("content", "status"),
    [
        pytest.param(b'{"amount": ', 400, id="truncated"),
        pytest.param(b"{amount: 1}", 400, id="bare-words"),
        pytest.param(b"[]", 422, id="array"),
        pytest.param(b'"capture"', 422, id="string"),
    ],
)
async def test_command_with_a_broken_body(
    factory: Factory, action: str, content: bytes, status: int
) -> None:
    shop = await factory.merchant()
    payment = await in_state(shop, "captured" if action == "refund" else "authorized")
    before = await snapshot(shop, payment["id"])
    response = await shop.http.post(
        f"/api/v1/payments/{payment['id']}/{action}",
        content=content,
        headers={**shop.headers, "Content-Type": "application/json"},
    )
    if status == 400:
        assert_error(response, 400, "malformed_json")
    else:
        assert_validation_error(response)
    assert await snapshot(shop, payment["id"]) == before


async def test_oversized_command_body(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    before = await snapshot(shop, payment["id"])
    counts = await footprint(db, shop.id)
    response = await shop.command(payment["id"], "refund", {"reason": "r" * (70 * 1024)})
    assert_error(response, 413, "payload_too_large")
    assert await snapshot(shop, payment["id"]) == before
    assert await footprint(db, shop.id) == counts


# --- ids and routes ----------------------------------------------------------------------------


def endpoints(payment_id: str) -> list[tuple[str, str]]:
    base = f"/api/v1/payments/{payment_id}"
    return [
        ("GET", base),
        ("GET", f"{base}/events"),
        ("POST", f"{base}/capture"),
        ("POST", f"{base}/void"),
        ("POST", f"{base}/refund"),
    ]


async def test_unknown_payment_id_is_not_found(factory: Factory, db: Database) -> None:
    shop = await factory.merchant()
    await shop.captured()  # the merchant has a payment, just not this one
    counts = await footprint(db, shop.id)
    for method, path in endpoints(str(uuid.uuid4())):
        body = {} if method == "POST" else None
        response = await shop.http.request(method, path, json=body, headers=shop.headers)
        assert_error(response, 404, "payment_not_found")
    assert await footprint(db, shop.id) == counts


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "123", "01a200a2-e62a-7443-8198", "01a200a2e62a74438198b4fb7aed22c4zz"]
)
async def test_malformed_payment_id_is_a_validation_error(
    factory: Factory, db: Database, bad_id: str
) -> None:
    shop = await factory.merchant()
    counts = await footprint(db, shop.id)
    for method, path in endpoints(bad_id):
        body = {} if method == "POST" else None
        response = await shop.http.request(method, path, json=body, headers=shop.headers)
        details = assert_validation_error(response)
        assert any("payment_id" in problem["loc"] for problem in details), details
    assert await footprint(db, shop.id) == counts


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nope"),
        ("GET", "/api/v2/payments"),
        ("POST", "/api/v1/payments/00000000-0000-0000-0000-000000000000/explode"),
        ("GET", "/"),
    ],
)
async def test_unknown_route(factory: Factory, method: str, path: str) -> None:
    shop = await factory.merchant()
    response = await shop.http.request(method, path, headers=shop.headers)
    assert_error(response, 404, "not_found")


# --- list --------------------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("a", id="one-char"),
        pytest.param("!!!!", id="punctuation"),
        pytest.param(b64(b"not json"), id="not-json"),
        pytest.param(b64(b"null"), id="null"),
        pytest.param(b64(b"[1, 2]"), id="numbers"),
        pytest.param(b64(b'["yesterday", "x"]'), id="bad-date"),
        pytest.param(b64(b'["2026-01-01T00:00:00+00:00", "not-a-uuid"]'), id="bad-uuid"),
        pytest.param(b64(f'["2026-01-01T00:00:00", "{uuid.uuid4()}"]'.encode()), id="naive"),
        pytest.param(b64(b'["2026-01-01T00:00:00+00:00"]'), id="one-element"),
        pytest.param(b64(b'{"a": 1, "b": 2}'), id="object"),
        pytest.param(b64(b"\xff\xfe"), id="binary"),
    ],
)
async def test_list_with_an_invalid_cursor(factory: Factory, cursor: str) -> None:
    shop = await factory.merchant()
    await shop.created()
    response = await shop.http.get(
        "/api/v1/payments", params={"cursor": cursor}, headers=shop.headers
    )
    assert_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"limit": 0}, "limit", id="limit-0"),
        pytest.param({"limit": -1}, "limit", id="limit-negative"),
        pytest.param({"limit": 101}, "limit", id="limit-101"),
        pytest.param({"limit": "ten"}, "limit", id="limit-word"),
        pytest.param({"limit": "2.5"}, "limit", id="limit-fraction"),
        pytest.param({"status": "bogus"}, "status", id="status-unknown"),
        pytest.param({"created_from": "yesterday"}, "created_from", id="created_from-word"),
        pytest.param({"created_to": "2026-13-01"}, "created_to", id="created_to-bad-month"),
        pytest.param({"cursor": "c" * 201}, "cursor", id="cursor-too-long"),
        pytest.param({"order_id": "o" * 256}, "order_id", id="order_id-too-long"),
    ],
)
async def test_list_with_bad_query_parameters(
    factory: Factory, params: dict[str, Any], field: str
) -> None:
    shop = await factory.merchant()
    response = await shop.http.get("/api/v1/payments", params=params, headers=shop.headers)
    details = assert_validation_error(response)
    assert any(field in problem["loc"] for problem in details), details


@pytest.mark.parametrize("limit", [1, 100])
async def test_list_limit_bounds_are_accepted(factory: Factory, limit: int) -> None:
    shop = await factory.merchant()
    await shop.created()
    await shop.created()
    response = await shop.http.get(
        "/api/v1/payments", params={"limit": limit}, headers=shop.headers
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == min(limit, 2)
    assert response.json()["has_more"] is (limit == 1)


async def test_nul_characters_are_refused_everywhere(factory: Factory, db: Database) -> None:
    """PostgreSQL text cannot hold NUL: a NUL in the query, a field or metadata is a 4xx."""
    shop = await factory.merchant()
    before = await footprint(db, shop.id)
    listed = await shop.http.get(
        "/api/v1/payments", params={"order_id": "a\x00b"}, headers=shop.headers
    )
    assert_error(listed, 400, "bad_request")
    for body in (
        body_with(order_id="a\x00b"),
        body_with(description="x\x00"),
        body_with(metadata={"k\x00": "v"}),
        body_with(metadata={"k": "v\x00"}),
    ):
        response = await post_create(shop, json=body, headers={"Idempotency-Key": "nul"})
        assert_error(response, 422, "validation_error")
    assert await footprint(db, shop.id) == before
