"""Marketplace guards under concurrency (design §3) and refunds racing for the same money."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from tests.idempotency.helpers import (
    error_code,
    execute,
    operations,
    payment_request_count,
    rows,
    sandbox_row,
    sandbox_rows,
)


async def _active_transactions(db, merchant_id, user_id: str, listing_id: str) -> int:
    found = await rows(
        db,
        """
        SELECT id FROM payment_transactions
        WHERE merchant_id = :m AND user_id = :u AND listing_id = :l
          AND status IN ('pending', 'authorized')
        """,
        m=merchant_id,
        u=user_id,
        l=listing_id,
    )
    return len(found)


# --- one active payment per (merchant, user, listing) ----------------------------------------


async def test_ten_concurrent_creates_for_one_user_and_listing_make_one_payment(factory, db):
    shop = await factory.merchant()

    responses = await asyncio.gather(
        *(shop.create(user_id="user-1", listing_id="listing-1") for _ in range(10))
    )

    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(created) == 1, [r.text for r in responses]
    assert all(r.status_code == 409 for r in refused), [r.text for r in refused]
    assert all(error_code(r) == "active_payment_exists" for r in refused)
    assert await payment_request_count(db, shop.id) == 1
    assert await _active_transactions(db, shop.id, "user-1", "listing-1") == 1
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1


async def test_a_failed_payment_frees_the_user_and_listing(factory, db):
    shop = await factory.merchant()
    first = await shop.created(user_id="user-1", listing_id="listing-1")
    blocked = await shop.create(user_id="user-1", listing_id="listing-1")
    assert blocked.status_code == 409
    assert error_code(blocked) == "active_payment_exists"

    declined = await shop.checkout(first["id"], "decline")
    assert declined.status_code == 200, declined.text
    assert (await shop.get(first["id"]))["status"] == "failed"

    again = await shop.create(user_id="user-1", listing_id="listing-1")
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first["id"]
    assert await _active_transactions(db, shop.id, "user-1", "listing-1") == 1


async def test_an_authorized_payment_keeps_the_user_and_listing_busy(factory):
    shop = await factory.merchant()
    await shop.authorized(user_id="user-1", listing_id="listing-1")

    response = await shop.create(user_id="user-1", listing_id="listing-1")

    assert response.status_code == 409
    assert error_code(response) == "active_payment_exists"


async def test_other_listings_and_users_are_not_blocked(factory):
    shop = await factory.merchant()
    await shop.created(user_id="user-1", listing_id="listing-1")

    other_listing = await shop.create(user_id="user-1", listing_id="listing-2")
    other_user = await shop.create(user_id="user-2", listing_id="listing-1")
    no_marketplace_ids = await shop.create()

    assert other_listing.status_code == 201, other_listing.text
    assert other_user.status_code == 201, other_user.text
    assert no_marketplace_ids.status_code == 201, no_marketplace_ids.text


async def test_the_guard_is_per_merchant(factory):
    one, two = await factory.merchant(), await factory.merchant()
    await one.created(user_id="user-1", listing_id="listing-1")

    response = await two.create(user_id="user-1", listing_id="listing-1")

    assert response.status_code == 201, response.text


# --- duplicate charges -----------------------------------------------------------------------


async def test_second_charge_within_five_minutes_of_a_capture_is_refused(factory, db):
    shop = await factory.merchant()
    captured = await shop.captured(user_id="user-1", listing_id="listing-1")
    assert captured["status"] == "captured"

    response = await shop.create(user_id="user-1", listing_id="listing-1")

    assert response.status_code == 409
    assert error_code(response) == "duplicate_charge"
    assert response.json()["error"]["details"]["listing_id"] == "listing-1"
    assert await payment_request_count(db, shop.id) == 1
    assert len(await sandbox_rows(db, shop.sandbox_account_id)) == 1


async def test_concurrent_second_charges_are_all_refused(factory, db):
    shop = await factory.merchant()
    await shop.captured(user_id="user-1", listing_id="listing-1")

    responses = await asyncio.gather(
        *(shop.create(user_id="user-1", listing_id="listing-1") for _ in range(5))
    )

    assert all(r.status_code == 409 for r in responses), [r.text for r in responses]
    assert all(error_code(r) == "duplicate_charge" for r in responses)
    assert await payment_request_count(db, shop.id) == 1


async def test_charge_after_capture_is_allowed_for_another_listing_or_user(factory):
    shop = await factory.merchant()
    await shop.captured(user_id="user-1", listing_id="listing-1")

    other_listing = await shop.create(user_id="user-1", listing_id="listing-2")
    other_user = await shop.create(user_id="user-2", listing_id="listing-1")

    assert other_listing.status_code == 201, other_listing.text
    assert other_user.status_code == 201, other_user.text


async def test_charge_is_allowed_again_after_the_window(factory, db):
    shop = await factory.merchant()
    captured = await shop.captured(user_id="user-1", listing_id="listing-1")
    # Age the captured payment past the 5 minute window.
    await execute(
        db,
        "UPDATE payment_transactions SET created_at = now() - interval '6 minutes' "
        "WHERE payment_request_id = :p",
        p=uuid.UUID(captured["id"]),
    )

    response = await shop.create(user_id="user-1", listing_id="listing-1")

    assert response.status_code == 201, response.text


# --- refunds racing for the same captured amount ---------------------------------------------


async def _refund_race(shop, payment_id: str, amounts: list[str]):
    return await asyncio.gather(
        *(
            shop.command(payment_id, "refund", {"amount": amount}, key=shop.new_key())
            for amount in amounts
        )
    )


async def test_two_concurrent_refunds_cannot_exceed_the_captured_amount(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()

    responses = await _refund_race(shop, payment["id"], ["100000", "100000"])

    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200, [r.text for r in responses]
    assert statuses[1] in (409, 422), [r.text for r in responses]
    loser = next(r for r in responses if r.status_code != 200)
    assert error_code(loser) in ("refund_exceeds_captured", "operation_in_progress")
    after = await shop.get(payment["id"])
    assert after["refunded_amount"] == "100000"
    assert Decimal(after["refunded_amount"]) <= Decimal(after["captured_amount"])
    assert after["status"] == "partially_refunded"
    ledger = await sandbox_row(db, payment["id"])
    assert ledger["refunded_amount"] == 100000
    assert len(ledger["operations"]) == 1
    refunds = await operations(db, payment["id"], "refund")
    assert [operation["status"] for operation in refunds] == ["succeeded"]


async def test_many_concurrent_partial_refunds_stop_at_the_captured_amount(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()

    responses = await _refund_race(shop, payment["id"], ["60000"] * 5)

    succeeded = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    # 2 x 60000 fit into 150000, a third never does.
    assert len(succeeded) == 2, [r.text for r in responses]
    assert all(r.status_code in (409, 422) for r in refused), [r.text for r in refused]
    after = await shop.get(payment["id"])
    assert after["refunded_amount"] == "120000"
    assert Decimal(after["refunded_amount"]) <= Decimal(after["captured_amount"])
    ledger = await sandbox_row(db, payment["id"])
    assert ledger["refunded_amount"] == 120000
    assert len(ledger["operations"]) == 2
    refunds = await operations(db, payment["id"], "refund")
    assert sorted(operation["status"] for operation in refunds) == ["succeeded", "succeeded"]


async def test_concurrent_full_refunds_refund_once(factory, db):
    shop = await factory.merchant()
    payment = await shop.captured()

    responses = await asyncio.gather(
        *(shop.command(payment["id"], "refund", key=shop.new_key()) for _ in range(4))
    )

    succeeded = [r for r in responses if r.status_code == 200]
    assert len(succeeded) == 1, [r.text for r in responses]
    assert all(r.status_code in (409, 422) for r in responses if r.status_code != 200)
    after = await shop.get(payment["id"])
    assert after["status"] == "refunded"
    assert after["refunded_amount"] == after["captured_amount"] == "150000"
    ledger = await sandbox_row(db, payment["id"])
    assert ledger["refunded_amount"] == 150000
    assert len(ledger["operations"]) == 1


async def test_concurrent_capture_and_void_settle_on_one(factory, db):
    shop = await factory.merchant()
    payment = await shop.authorized()

    capture, void = await asyncio.gather(
        shop.command(payment["id"], "capture", key=shop.new_key()),
        shop.command(payment["id"], "void", key=shop.new_key()),
    )

    assert sorted([capture.status_code, void.status_code]) == [200, 409], (capture.text, void.text)
    after = await shop.get(payment["id"])
    ledger = await sandbox_row(db, payment["id"])
    assert len(ledger["operations"]) == 1
    if capture.status_code == 200:
        assert after["status"] == "captured"
        assert ledger["status"] == "captured"
    else:
        assert after["status"] == "voided"
        assert ledger["status"] == "voided"
