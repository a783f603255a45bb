"""Preparing payments through payrelay's own API: created with keys, then paid (or not) on the
sandbox's checkout the way a customer would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bench.console import BenchError
from bench.http import Response
from bench.stack import Stack

T = TypeVar("T")
R = TypeVar("R")
PAYMENT_AMOUNT = "150000"
CURRENCY = "VND"


def create_body(key: str, capture_method: str = "automatic") -> dict[str, Any]:
    """The body bench/lua/payrelay.lua sends for `key` (the replay scenario relies on both
    sides sending the same request for a key)."""
    return {
        "order_id": key,
        "amount": PAYMENT_AMOUNT,
        "currency": CURRENCY,
        "gateway": "sandbox",
        "capture_method": capture_method,
        "user_id": "bench-user",
        "listing_id": key,
        "description": "benchmark payment",
    }


async def bounded(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], concurrency: int
) -> list[R]:
    """`work` over `items` with at most `concurrency` at once, results in order."""
    results: dict[int, R] = {}
    positions = iter(range(len(items)))

    async def worker() -> None:
        for position in positions:
            results[position] = await work(items[position])

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    return [results[position] for position in range(len(items))]


def _expect(response: Response, what: str) -> Any:
    if not response.ok:
        raise BenchError(f"{what}: HTTP {response.status} {response.body[:300]!r}")
    return response.json()


async def create_payments(
    stack: Stack, keys: Sequence[str], *, capture_method: str, concurrency: int
) -> list[dict[str, Any]]:
    """Create one payment per key; the payment objects, in key order."""

    async def create(key: str) -> dict[str, Any]:
        headers = {**stack.auth, "Idempotency-Key": key}
        response = await stack.client.post_json(
            "/api/v1/payments/create", create_body(key, capture_method), headers
        )
        payment: dict[str, Any] = _expect(response, f"create {key}")
        return payment

    return await bounded(keys, create, concurrency)


async def checkout(
    stack: Stack, payment_ids: Sequence[str], outcome: str, *, concurrency: int
) -> list[dict[str, Any]]:
    """The customer's choice on the sandbox checkout page; the sandbox's payment objects.

    `succeed` makes the sandbox notify payrelay at once; `timeout` takes the money but loses the
    notification, which the webhook scenario then sends itself at its own pace.
    """
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    body = f"outcome={outcome}".encode()

    async def choose(payment_id: str) -> dict[str, Any]:
        response = await stack.client.request(
            "POST", f"/sandbox/checkout/{payment_id}", headers=headers, body=body
        )
        answer = _expect(response, f"checkout {payment_id}")
        sandbox_payment: dict[str, Any] = answer["payment"]
        return sandbox_payment

    return await bounded(payment_ids, choose, concurrency)


async def wait_for_count(
    stack: Stack, query: str, arguments: Sequence[Any], expected: int, within: float
) -> None:
    """Until `query` (a count) reaches `expected`; fails after `within` seconds."""
    deadline = time.monotonic() + within
    found = 0
    while time.monotonic() < deadline:
        found = int(await stack.db.fetchval(query, *arguments))
        if found >= expected:
            return
        await asyncio.sleep(0.25)
    raise BenchError(f"waited {within:.0f}s for {expected} rows, found {found}: {query}")


PENDING_CALLBACKS = (
    "SELECT count(*) FROM payment_callbacks WHERE status IN ('pending', 'delivering', 'failed')"
)
PENDING_WEBHOOKS = "SELECT count(*) FROM payment_webhooks WHERE status IN ('received', 'failed')"


async def wait_until_quiet(stack: Stack, within: float = 120.0) -> None:
    """Until the worker has applied every webhook and delivered every callback."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        waiting = int(await stack.db.fetchval(PENDING_WEBHOOKS))
        waiting += int(await stack.db.fetchval(PENDING_CALLBACKS))
        if waiting == 0:
            return
        await asyncio.sleep(0.25)
    raise BenchError(f"the worker still had work queued after {within:.0f}s")
