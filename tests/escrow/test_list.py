"""GET /api/v1/escrow: the merchant's holdings, newest first, filtered, paginated, with totals
per seller and currency (never across currencies)."""

from __future__ import annotations

from typing import Any

from tests.escrow.helpers import release, sale
from tests.factories import MerchantClient


async def _list(shop: MerchantClient, **params: Any) -> dict[str, Any]:
    response = await shop.http.get("/api/v1/escrow", params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_holdings_and_totals_per_seller_and_currency(factory):
    shop, other = await factory.merchant(), await factory.merchant()
    await other.captured(**sale("anna"))  # another merchant's seller of the same name
    a_rsd = await shop.captured(amount="12500.00", currency="RSD", **sale("anna"))
    a_vnd = await shop.captured(amount="150000", currency="VND", **sale("anna"))
    a_rsd_2 = await shop.captured(amount="1000.00", currency="RSD", **sale("anna"))
    b_vnd = await shop.captured(amount="150000", currency="VND", **sale("boris"))
    await shop.authorized(amount="500.00", currency="RSD", **sale("boris"))
    assert (await release(shop, a_rsd["id"])).status_code == 200
    assert (await shop.command(a_rsd["id"], "refund", {"amount": "1250.00"})).status_code == 200
    assert (await shop.command(b_vnd["id"], "refund", {"amount": "50000"})).status_code == 200
    await shop.captured()  # not a marketplace payment: no escrow

    everything = await _list(shop)

    assert len(everything["data"]) == 5
    assert everything["has_more"] is False
    assert everything["next_cursor"] is None
    newest = everything["data"][1]
    assert newest["payment_id"] == b_vnd["id"]
    assert (newest["seller_id"], newest["currency"], newest["status"]) == ("boris", "VND", "held")
    assert (newest["amount"], newest["commission"], newest["refunded_amount"]) == (
        "95000",
        "5000",
        "50000",
    )
    assert newest["captured_amount"] == "150000"
    assert newest["order_id"] == b_vnd["order_id"]
    assert newest["listing_id"] == b_vnd["listing_id"]
    totals = {(t["seller_id"], t["currency"]): t for t in everything["totals"]}
    assert set(totals) == {("anna", "RSD"), ("anna", "VND"), ("boris", "RSD"), ("boris", "VND")}
    assert totals[("anna", "RSD")] == {
        "seller_id": "anna",
        "currency": "RSD",
        "payments": 2,
        "held_amount": "950.00",  # only the second RSD sale is still held
        "released_amount": "11875.00",
        "refunded_amount": "1250.00",
        "commission": "612.50",  # 562.50 + 50.00
        "seller_debt": "1187.50",  # 11875.00 − 10687.50
    }
    assert totals[("anna", "VND")]["held_amount"] == "142500"
    assert totals[("boris", "VND")] == {
        "seller_id": "boris",
        "currency": "VND",
        "payments": 1,
        "held_amount": "95000",
        "released_amount": "0",
        "refunded_amount": "50000",
        "commission": "5000",
        "seller_debt": "0",
    }
    assert totals[("boris", "RSD")]["held_amount"] == "0.00"

    anna = await _list(shop, seller_id="anna")
    assert {h["payment_id"] for h in anna["data"]} == {a_rsd["id"], a_vnd["id"], a_rsd_2["id"]}
    assert {(t["seller_id"], t["currency"]) for t in anna["totals"]} == {
        ("anna", "RSD"),
        ("anna", "VND"),
    }

    refunded = await _list(shop, status="refunded")
    assert [h["payment_id"] for h in refunded["data"]] == [a_rsd["id"]]
    assert refunded["data"][0]["released_amount"] == "11875.00"
    assert refunded["data"][0]["seller_debt"] == "1187.50"

    vnd = await _list(shop, currency="vnd", status="held")
    assert {h["payment_id"] for h in vnd["data"]} == {a_vnd["id"], b_vnd["id"]}
    assert {t["currency"] for t in vnd["totals"]} == {"VND"}

    nothing = await _list(shop, seller_id="anna", status="cancelled")
    assert nothing["data"] == []
    assert nothing["totals"] == []


async def test_cursor_pagination_walks_every_holding_once(factory):
    shop = await factory.merchant()
    created = [(await shop.captured(**sale("carl")))["id"] for _ in range(5)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, "seller_id": "carl"}
        if cursor is not None:
            params["cursor"] = cursor
        page = await _list(shop, **params)
        pages += 1
        seen.extend(h["payment_id"] for h in page["data"])
        assert page["totals"][0]["payments"] == 5  # totals cover every page
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]

    assert pages == 3
    assert seen == list(reversed(created))
