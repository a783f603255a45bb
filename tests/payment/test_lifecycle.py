"""The payment lifecycle through real HTTP: both capture methods, partial capture, repeated
refunds, void, decline and pending checkouts, the audit trail, commission and the list endpoint."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from payrelay.kit.db import Database
from tests.factories import Factory, MerchantClient
from tests.payment.helpers import assert_error, event_types

ZERO = {"VND": "0", "USD": "0.00", "EUR": "0.00", "JPY": "0", "KWD": "0.000", "RSD": "0.00"}
TIMESTAMPS = ("authorized_at", "captured_at", "failed_at", "voided_at")


def assert_amounts(
    payment: dict[str, Any],
    *,
    status: str,
    authorized: str,
    captured: str,
    refunded: str,
) -> None:
    got = {
        "status": payment["status"],
        "authorized": payment["authorized_amount"],
        "captured": payment["captured_amount"],
        "refunded": payment["refunded_amount"],
    }
    expected = {
        "status": status,
        "authorized": authorized,
        "captured": captured,
        "refunded": refunded,
    }
    assert got == expected


def assert_stamped(payment: dict[str, Any], *stamped: str) -> None:
    """Exactly these lifecycle timestamps are set."""
    assert {name for name in TIMESTAMPS if payment[name] is not None} == set(stamped), payment


async def refund(shop: MerchantClient, payment_id: str, amount: str | None) -> dict[str, Any]:
    body = {} if amount is None else {"amount": amount}
    response = await shop.command(payment_id, "refund", body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- automatic capture -------------------------------------------------------------------------


async def test_automatic_capture_then_refunds_down_to_refunded(factory: Factory) -> None:
    shop = await factory.merchant()
    created = await shop.created(amount="150000", currency="VND", order_id="auto-1")
    assert created["order_id"] == "auto-1"
    assert created["gateway"] == "sandbox"
    assert created["capture_method"] == "automatic"
    assert created["amount"] == "150000"
    assert created["currency"] == "VND"
    assert_amounts(created, status="pending", authorized="0", captured="0", refunded="0")
    assert_stamped(created)
    assert created["error"] is None
    assert created["next_action"]["type"] == "redirect"
    assert created["next_action"]["url"].endswith(f"/sandbox/checkout/{created['id']}")
    assert await shop.get(created["id"]) == created

    checkout = await shop.checkout(created["id"], "succeed")
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["notified"] is True
    captured = await shop.get(created["id"])
    assert_amounts(
        captured, status="captured", authorized="150000", captured="150000", refunded="0"
    )
    assert_stamped(captured, "authorized_at", "captured_at")
    assert captured["next_action"] is None
    assert captured["gateway_transaction_id"]

    first = await refund(shop, created["id"], "50000")
    assert_amounts(
        first,
        status="partially_refunded",
        authorized="150000",
        captured="150000",
        refunded="50000",
    )
    second = await refund(shop, created["id"], "25000")
    assert_amounts(
        second,
        status="partially_refunded",
        authorized="150000",
        captured="150000",
        refunded="75000",
    )
    # No amount: refund all that is left.
    last = await refund(shop, created["id"], None)
    assert_amounts(
        last, status="refunded", authorized="150000", captured="150000", refunded="150000"
    )
    assert await shop.get(created["id"]) == last

    events = await shop.events(created["id"])
    assert event_types(events) == [
        "payment.created",
        "payment.initiated",
        "payment.captured",
        "webhook.received",
        *["refund.requested", "refund.succeeded", "payment.refunded"] * 3,
    ]
    refunds = [event["data"] for event in events if event["event_type"] == "payment.refunded"]
    assert [data["refund_amount"] for data in refunds] == ["50000", "25000", "75000"]
    assert [data["refunded_amount"] for data in refunds] == ["50000", "75000", "150000"]
    assert [data["status"] for data in refunds] == [
        "partially_refunded",
        "partially_refunded",
        "refunded",
    ]
    requested = [event["data"] for event in events if event["event_type"] == "refund.requested"]
    assert [data["amount"] for data in requested] == ["50000", "25000", "75000"]

    again = await shop.command(created["id"], "refund", {"amount": "1"})
    assert_error(again, 409, "illegal_transition")


async def test_create_alias_route_creates_the_same_payment_object(factory: Factory) -> None:
    shop = await factory.merchant()
    response = await shop.http.post(
        "/api/v1/payments",
        json={"order_id": "alias-1", "amount": "10.50", "currency": "USD", "gateway": "sandbox"},
        headers={**shop.headers, "Idempotency-Key": shop.new_key()},
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["order_id"] == "alias-1"
    assert payment["status"] == "pending"
    assert payment["amount"] == "10.50"
    assert await shop.get(payment["id"]) == payment


# --- manual capture ----------------------------------------------------------------------------


async def test_manual_capture_full_then_partial_refunds(factory: Factory) -> None:
    shop = await factory.merchant()
    created = await shop.created(
        capture_method="manual", amount="100.00", currency="EUR", order_id="manual-1"
    )
    assert created["capture_method"] == "manual"
    assert_amounts(created, status="pending", authorized="0.00", captured="0.00", refunded="0.00")

    assert (await shop.checkout(created["id"], "succeed")).status_code == 200
    authorized = await shop.get(created["id"])
    assert_amounts(
        authorized, status="authorized", authorized="100.00", captured="0.00", refunded="0.00"
    )
    assert_stamped(authorized, "authorized_at")

    # Refund before capture is illegal and changes nothing.
    refused = await shop.command(created["id"], "refund", {"amount": "1.00"})
    assert_error(refused, 409, "illegal_transition")
    assert await shop.get(created["id"]) == authorized

    response = await shop.command(created["id"], "capture")
    assert response.status_code == 200, response.text
    captured = response.json()
    assert_amounts(
        captured, status="captured", authorized="100.00", captured="100.00", refunded="0.00"
    )
    assert_stamped(captured, "authorized_at", "captured_at")
    assert captured["authorized_at"] == authorized["authorized_at"]

    steps = [("10.00", "10.00"), ("0.01", "10.01"), ("39.99", "50.00"), ("50.00", "100.00")]
    for amount, total in steps:
        result = await refund(shop, created["id"], amount)
        status = "refunded" if total == "100.00" else "partially_refunded"
        assert_amounts(
            result, status=status, authorized="100.00", captured="100.00", refunded=total
        )
        assert await shop.get(created["id"]) == result

    events = await shop.events(created["id"])
    assert event_types(events) == [
        "payment.created",
        "payment.initiated",
        "payment.authorized",
        "webhook.received",
        "capture.requested",
        "capture.succeeded",
        "payment.captured",
        *["refund.requested", "refund.succeeded", "payment.refunded"] * 4,
    ]
    ids = [event["id"] for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    capture_requested = events[4]
    assert capture_requested["actor"] == "merchant"
    assert capture_requested["data"]["amount"] == "100.00"
    assert events[6]["data"]["captured_amount"] == "100.00"
    assert events[6]["data"]["previous_status"] == "authorized"
    refunds = [event["data"] for event in events if event["event_type"] == "payment.refunded"]
    assert [data["refund_amount"] for data in refunds] == ["10.00", "0.01", "39.99", "50.00"]
    for event in events:
        assert set(event) == {
            "id",
            "event_type",
            "actor",
            "data",
            "gateway_response",
            "request_id",
            "created_at",
        }
        assert event["actor"] in {"merchant", "gateway"}

    for action in ("capture", "void", "refund"):
        assert_error(await shop.command(created["id"], action), 409, "illegal_transition")


async def test_partial_capture_releases_the_rest(factory: Factory) -> None:
    shop = await factory.merchant()
    authorized = await shop.authorized(amount="10.50", currency="USD")
    assert_amounts(
        authorized, status="authorized", authorized="10.50", captured="0.00", refunded="0.00"
    )

    response = await shop.command(authorized["id"], "capture", {"amount": "8.00"})
    assert response.status_code == 200, response.text
    captured = response.json()
    assert captured["status"] == "captured"
    assert captured["captured_amount"] == "8.00"
    assert captured["refunded_amount"] == "0.00"
    assert captured["amount"] == "10.50"

    # Only one capture: the uncaptured 2.50 is released, not capturable later.
    assert_error(
        await shop.command(authorized["id"], "capture", {"amount": "2.50"}),
        409,
        "illegal_transition",
    )
    assert_error(await shop.command(authorized["id"], "void"), 409, "illegal_transition")
    # Refunds are bounded by what was captured, not by what was authorized.
    over = await shop.command(authorized["id"], "refund", {"amount": "8.01"})
    assert_error(over, 422, "refund_exceeds_captured")
    assert await shop.get(authorized["id"]) == captured

    partial = await refund(shop, authorized["id"], "3.00")
    assert partial["status"] == "partially_refunded"
    assert partial["refunded_amount"] == "3.00"
    rest = await refund(shop, authorized["id"], None)
    assert rest["status"] == "refunded"
    assert rest["refunded_amount"] == "8.00"
    assert rest["captured_amount"] == "8.00"

    events = await shop.events(authorized["id"])
    capture = [e for e in events if e["event_type"] in {"capture.requested", "payment.captured"}]
    assert capture[0]["data"]["amount"] == "8.00"
    assert capture[1]["data"]["captured_amount"] == "8.00"


async def test_void_an_authorized_payment(factory: Factory) -> None:
    shop = await factory.merchant()
    authorized = await shop.authorized(amount="5000", currency="JPY")
    response = await shop.command(authorized["id"], "void", {"reason": "customer changed mind"})
    assert response.status_code == 200, response.text
    voided = response.json()
    assert_amounts(voided, status="voided", authorized="5000", captured="0", refunded="0")
    assert_stamped(voided, "authorized_at", "voided_at")
    assert await shop.get(authorized["id"]) == voided

    events = await shop.events(authorized["id"])
    assert event_types(events) == [
        "payment.created",
        "payment.initiated",
        "payment.authorized",
        "webhook.received",
        "void.requested",
        "void.succeeded",
        "payment.voided",
    ]
    assert events[4]["data"]["reason"] == "customer changed mind"
    assert events[6]["data"]["previous_status"] == "authorized"

    for action in ("capture", "void", "refund"):
        assert_error(await shop.command(authorized["id"], action), 409, "illegal_transition")
    assert await shop.get(authorized["id"]) == voided
    assert await shop.events(authorized["id"]) == events


async def test_declined_checkout_fails_the_payment(factory: Factory) -> None:
    shop = await factory.merchant()
    created = await shop.created(amount="25.00", currency="USD")
    response = await shop.checkout(created["id"], "decline")
    assert response.status_code == 200, response.text
    failed = await shop.get(created["id"])
    assert_amounts(failed, status="failed", authorized="0.00", captured="0.00", refunded="0.00")
    assert_stamped(failed, "failed_at")
    assert failed["error"]["code"] == "card_declined"
    assert failed["error"]["message"]
    assert failed["next_action"] is None

    events = await shop.events(created["id"])
    assert event_types(events) == [
        "payment.created",
        "payment.initiated",
        "payment.failed",
        "webhook.received",
    ]
    failure = events[2]
    assert failure["data"]["previous_status"] == "pending"
    assert failure["data"]["status"] == "failed"

    for action in ("capture", "void", "refund"):
        assert_error(await shop.command(created["id"], action), 409, "illegal_transition")
    assert await shop.get(created["id"]) == failed
    # The checkout is closed: choosing again is refused by the sandbox and changes nothing.
    again = await shop.checkout(created["id"], "succeed")
    assert again.status_code == 409
    assert await shop.get(created["id"]) == failed


async def test_pending_checkout_stays_pending_until_the_customer_decides(
    factory: Factory,
) -> None:
    shop = await factory.merchant()
    created = await shop.created(capture_method="manual")
    response = await shop.checkout(created["id"], "pending")
    assert response.status_code == 200, response.text
    pending = await shop.get(created["id"])
    assert_amounts(pending, status="pending", authorized="0", captured="0", refunded="0")
    assert_stamped(pending)
    assert_error(await shop.command(created["id"], "capture"), 409, "illegal_transition")
    assert_error(await shop.command(created["id"], "void"), 409, "illegal_transition")
    assert event_types(await shop.events(created["id"])) == [
        "payment.created",
        "payment.initiated",
        "webhook.received",
    ]

    assert (await shop.checkout(created["id"], "succeed")).status_code == 200
    authorized = await shop.get(created["id"])
    assert_amounts(authorized, status="authorized", authorized="150000", captured="0", refunded="0")
    assert event_types(await shop.events(created["id"]))[-2:] == [
        "payment.authorized",
        "webhook.received",
    ]


async def test_merchant_request_id_is_recorded_on_its_audit_events(factory: Factory) -> None:
    shop = await factory.merchant()
    authorized = await shop.authorized()
    request_id = f"capture-{uuid.uuid4().hex[:12]}"
    response = await shop.http.post(
        f"/api/v1/payments/{authorized['id']}/capture",
        json={},
        headers={**shop.headers, "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    events = await shop.events(authorized["id"])
    by_type = {event["event_type"]: event for event in events}
    for event_type in ("capture.requested", "capture.succeeded", "payment.captured"):
        assert by_type[event_type]["request_id"] == request_id
    assert by_type["payment.created"]["request_id"] != request_id


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "rate", "commission", "seller"),
    [
        ("VND", "150000", "0.05", "7500", "142500"),
        ("VND", "12345", "0.05", "617", "11728"),  # 617.25 -> 617
        ("VND", "12350", "0.05", "618", "11732"),  # 617.5 -> 618 (half to even)
        ("USD", "10.50", "0.05", "0.52", "9.98"),  # 0.525 -> 0.52 (half to even)
        ("USD", "10.70", "0.05", "0.54", "10.16"),  # 0.535 -> 0.54 (half to even)
        ("USD", "0.05", "0.10", "0.00", "0.05"),  # 0.005 -> 0.00 (half to even)
        ("EUR", "99.99", "0.05", "5.00", "94.99"),  # 4.9995 -> 5.00
        ("RSD", "1250.50", "0.05", "62.52", "1187.98"),  # 62.525 -> 62.52
        ("JPY", "1010", "0.05", "50", "960"),  # 50.5 -> 50
        ("JPY", "1030", "0.05", "52", "978"),  # 51.5 -> 52
        ("KWD", "1.250", "0.05", "0.062", "1.188"),  # 0.0625 -> 0.062
        ("KWD", "1.010", "0.05", "0.050", "0.960"),  # 0.0505 -> 0.050
        ("KWD", "7.5", "0.05", "0.375", "7.125"),  # fewer digits than allowed is fine
        ("USD", "1000", "0.025", "25.00", "975.00"),
        ("USD", "33.33", "0", "0.00", "33.33"),
    ],
)
async def test_commission_and_seller_amount(
    factory: Factory, currency: str, amount: str, rate: str, commission: str, seller: str
) -> None:
    shop = await factory.merchant(commission_rate=Decimal(rate))
    created = await shop.created(amount=amount, currency=currency)
    quantized = str(Decimal(seller) + Decimal(commission))
    assert created["amount"] == quantized
    assert created["marketplace_commission"] == commission
    assert created["seller_amount"] == seller
    assert Decimal(created["seller_amount"]) == Decimal(created["amount"]) - Decimal(commission)
    assert created["authorized_amount"] == ZERO[currency]
    event = (await shop.events(created["id"]))[0]
    assert event["event_type"] == "payment.created"
    assert event["data"]["marketplace_commission"] == commission
    assert event["data"]["seller_amount"] == seller
    assert event["data"]["amount"] == quantized

    # Capture and refund amounts keep the currency's digits all the way through.
    assert (await shop.checkout(created["id"], "succeed")).status_code == 200
    captured = await shop.get(created["id"])
    assert captured["captured_amount"] == quantized
    assert captured["marketplace_commission"] == commission
    assert captured["seller_amount"] == seller


async def test_lowercase_currency_is_normalized(factory: Factory) -> None:
    shop = await factory.merchant()
    created = await shop.created(amount="12.5", currency="usd")
    assert created["currency"] == "USD"
    assert created["amount"] == "12.50"


# --- listing -----------------------------------------------------------------------------------


async def list_payments(shop: MerchantClient, **params: Any) -> dict[str, Any]:
    response = await shop.http.get("/api/v1/payments", params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"data", "has_more", "next_cursor"}
    return body


async def all_pages(shop: MerchantClient, limit: int, **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        page = await list_payments(shop, **query)
        pages.append(page)
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return pages
        assert len(page["data"]) == limit
        cursor = page["next_cursor"]
        assert isinstance(cursor, str)
        assert len(pages) < 20


async def five_payments(shop: MerchantClient) -> list[dict[str, Any]]:
    """Five payments, oldest first: two captured, one failed, one authorized, one pending."""
    first = await shop.captured(order_id="list-a")
    second = await shop.created(order_id="list-b", amount="20.00", currency="USD")
    assert (await shop.checkout(second["id"], "decline")).status_code == 200
    third = await shop.authorized(order_id="list-c")
    fourth = await shop.captured(order_id="list-d")
    fifth = await shop.created(order_id="list-e")
    return [await shop.get(p["id"]) for p in (first, second, third, fourth, fifth)]


async def test_list_is_newest_first_and_paginates_with_a_cursor(factory: Factory) -> None:
    shop = await factory.merchant()
    payments = await five_payments(shop)
    newest_first = [p["id"] for p in reversed(payments)]

    everything = await list_payments(shop)
    assert [p["id"] for p in everything["data"]] == newest_first
    assert everything["has_more"] is False
    assert everything["next_cursor"] is None
    assert everything["data"] == list(reversed(payments))

    pages = await all_pages(shop, limit=2)
    assert [len(page["data"]) for page in pages] == [2, 2, 1]
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert [p["id"] for page in pages for p in page["data"]] == newest_first

    exact = await all_pages(shop, limit=5)
    assert len(exact) == 1
    assert [p["id"] for p in exact[0]["data"]] == newest_first

    one_by_one = await all_pages(shop, limit=1)
    assert [p["id"] for page in one_by_one for p in page["data"]] == newest_first


async def test_list_filters(factory: Factory) -> None:
    shop = await factory.merchant()
    payments = await five_payments(shop)
    ids = [p["id"] for p in payments]

    async def listed(**params: Any) -> list[str]:
        return [p["id"] for p in (await list_payments(shop, **params))["data"]]

    assert await listed(order_id="list-c") == [ids[2]]
    assert await listed(order_id="no-such-order") == []
    assert await listed(status="captured") == [ids[3], ids[0]]
    assert await listed(status="failed") == [ids[1]]
    assert await listed(status="authorized") == [ids[2]]
    assert await listed(status="pending") == [ids[4]]
    assert await listed(status="refunded") == []
    assert await listed(gateway="sandbox") == ids[::-1]
    assert await listed(gateway="stripe") == []
    assert await listed(status="captured", order_id="list-d") == [ids[3]]
    assert await listed(status="captured", order_id="list-c") == []

    pages = await all_pages(shop, limit=1, status="captured")
    assert [p["id"] for page in pages for p in page["data"]] == [ids[3], ids[0]]


async def test_list_created_from_and_created_to(factory: Factory) -> None:
    shop = await factory.merchant()
    payments = [await shop.created(order_id=f"range-{n}") for n in range(5)]
    ids = [p["id"] for p in payments]
    stamps = [p["created_at"] for p in payments]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)

    async def listed(**params: Any) -> list[str]:
        pages = await all_pages(shop, limit=2, **params)
        return [p["id"] for page in pages for p in page["data"]]

    # created_from is inclusive, created_to exclusive.
    assert await listed(created_from=stamps[2]) == ids[:1:-1]
    assert await listed(created_to=stamps[2]) == ids[1::-1]
    assert await listed(created_from=stamps[1], created_to=stamps[4]) == ids[3:0:-1]
    assert await listed(created_from=stamps[3], created_to=stamps[3]) == []
    assert (
        await listed(created_from="2000-01-01T00:00:00Z", created_to="2000-01-02T00:00:00Z") == []
    )
    # Without an offset the time is read as UTC.
    naive = stamps[2].removesuffix("+00:00")
    assert naive != stamps[2]
    assert await listed(created_from=naive) == ids[:1:-1]


async def test_an_external_refund_is_recorded_without_calling_the_gateway(
    factory: Factory, db: Database
) -> None:
    shop = await factory.merchant()
    payment = await shop.captured()
    response = await shop.command(
        payment["id"], "refund", {"amount": "50000", "external": True, "reason": "cash"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["refunded_amount"]) == (
        "partially_refunded",
        "50000",
    )
    async with db.session() as session:
        operations = await session.scalar(
            text("SELECT operations FROM sandbox_transactions WHERE payment_reference = :p"),
            {"p": payment["id"]},
        )
    assert operations == []  # the gateway was not asked
    events = await shop.events(payment["id"])
    [requested] = [e for e in events if e["event_type"] == "refund.requested"]
    assert requested["data"]["external"] is True
    over = await shop.command(payment["id"], "refund", {"amount": "100001", "external": True})
    assert over.status_code == 422
    assert over.json()["error"]["code"] == "refund_exceeds_captured"
