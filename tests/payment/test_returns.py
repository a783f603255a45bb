"""The customer coming back from the gateway: forwarded to the merchant, told the status,
and nothing about money decided by the browser."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit


async def test_the_customer_is_forwarded_to_the_merchant_with_the_status(factory, http):
    shop = await factory.merchant()
    payment = await shop.created(return_url="https://shop.example/thanks?order=1001")
    url = f"/return/sandbox/{shop.sandbox_account_id}/{payment['id']}"

    before = await http.get(url, follow_redirects=False)
    assert before.status_code == 303
    target = urlsplit(before.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "shop.example", "/thanks")
    assert parse_qs(target.query) == {
        "order": ["1001"],
        "payment_id": [payment["id"]],
        "status": ["pending"],
    }
    assert (await shop.get(payment["id"]))["status"] == "pending"  # the visit changed nothing

    await shop.checkout(payment["id"], "succeed")
    after = await http.get(url, follow_redirects=False)
    assert parse_qs(urlsplit(after.headers["location"]).query)["status"] == ["captured"]


async def test_without_a_return_url_the_customer_sees_a_page(factory, http):
    shop = await factory.merchant()
    payment = await shop.captured()
    page = await http.get(f"/return/sandbox/{shop.sandbox_account_id}/{payment['id']}")
    assert page.status_code == 200
    assert "captured" in page.text


async def test_unknown_or_mismatched_returns_are_404(factory, http):
    shop = await factory.merchant()
    payment = await shop.created()
    other = await factory.merchant()
    for url in (
        f"/return/sandbox/{shop.sandbox_account_id}/{uuid.uuid4()}",
        f"/return/momo/{shop.sandbox_account_id}/{payment['id']}",
        f"/return/sandbox/{other.sandbox_account_id}/{payment['id']}",
        f"/return/sandbox/{shop.sandbox_account_id}/not-a-uuid",
    ):
        response = await http.get(url)
        assert response.status_code in (404, 422), url
