"""Helpers shared by the escrow tests: marketplace payments, the rows behind them, the invariant."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from payrelay.kit.db import Database
from payrelay.kit.money import commission_of_net, quantize
from payrelay.merchant import service as merchant_service
from tests.factories import MerchantClient
from tests.idempotency.helpers import rows

T = TypeVar("T")

RELEASE = "escrow/release"


def sale(seller: str = "seller-1", listing: str | None = None, **body: Any) -> dict[str, Any]:
    """Create-body fields of a marketplace sale."""
    return {"seller_id": seller, "listing_id": listing or f"listing-{uuid.uuid4().hex[:8]}", **body}


async def set_hold_days(db: Database, merchant_id: uuid.UUID, days: int) -> None:
    async with db.transaction() as session:
        await merchant_service.update_settings(session, merchant_id, escrow_hold_days=days)


async def release(
    shop: MerchantClient, payment_id: str, key: str | None = None, **body: Any
) -> httpx.Response:
    return await shop.command(payment_id, RELEASE, body or None, key=key)


async def escrow_row(db: Database, payment_id: str) -> dict[str, Any] | None:
    found = await rows(
        db,
        """
        SELECT e.* FROM escrow_payments e
        JOIN payment_transactions t ON t.id = e.payment_transaction_id
        WHERE t.payment_request_id = :p
        """,
        p=uuid.UUID(payment_id),
    )
    assert len(found) <= 1, found
    return found[0] if found else None


async def transaction_row(db: Database, payment_id: str) -> dict[str, Any]:
    [found] = await rows(
        db,
        "SELECT * FROM payment_transactions WHERE payment_request_id = :p",
        p=uuid.UUID(payment_id),
    )
    return found


async def callbacks(db: Database, payment_id: str, event_type: str | None = None) -> list[Any]:
    return await rows(
        db,
        """
        SELECT * FROM payment_callbacks
        WHERE payment_request_id = :p AND (CAST(:t AS text) IS NULL OR event_type = :t)
        ORDER BY sequence
        """,
        p=uuid.UUID(payment_id),
        t=event_type,
    )


async def settled(db: Database, callback_id: uuid.UUID, within: float = 10) -> dict[str, Any]:
    """The callback row once the worker delivered it or gave up on it."""
    deadline = time.monotonic() + within
    while True:
        [found] = await rows(db, "SELECT * FROM payment_callbacks WHERE id = :i", i=callback_id)
        if found["status"] in ("delivered", "dead") or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def audit_rows(db: Database, payment_id: str, prefix: str = "escrow.") -> list[Any]:
    return await rows(
        db,
        """
        SELECT * FROM payment_logs
        WHERE payment_request_id = :p AND event_type LIKE :prefix
        ORDER BY id
        """,
        p=uuid.UUID(payment_id),
        prefix=prefix + "%",
    )


def check_split(escrow: dict[str, Any], transaction: dict[str, Any]) -> None:
    """The stored escrow is the rule's split of the stored payment, and the parts add up."""
    currency = transaction["currency"]
    captured = transaction["captured_amount"]
    refunded = transaction["refunded_amount"]
    parts = (escrow["amount"], escrow["commission_amount"], escrow["refunded_amount"])
    assert all(part >= 0 for part in parts), escrow
    assert sum(parts) == captured, (escrow, transaction)
    assert escrow["captured_amount"] == captured
    assert escrow["refunded_amount"] == refunded
    expected = commission_of_net(
        quantize(captured - refunded, currency),
        quantize(transaction["amount"], currency),
        quantize(transaction["marketplace_commission"], currency),
        currency,
    )
    assert escrow["commission_amount"] == expected.commission, (escrow, expected)
    assert escrow["amount"] == expected.seller_amount, (escrow, expected)
    released = escrow["released_amount"]
    assert escrow["seller_debt"] == (
        Decimal(0) if released is None else released - escrow["amount"]
    )
    assert escrow["seller_debt"] >= 0


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on its own event loop in a worker thread (Hypothesis drives a
    synchronous test function)."""
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(asyncio.run(work()))  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
