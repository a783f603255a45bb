"""Hypothesis over the real service: random capture/void/refund sequences through HTTP.

Each example runs on its own event loop in a worker thread (Hypothesis drives a synchronous
function), with its own merchant, against the test server and database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service

T = TypeVar("T")

steps = st.lists(
    st.tuples(
        st.sampled_from(["capture", "void", "refund"]),
        st.one_of(st.none(), st.integers(min_value=-3, max_value=160).map(lambda n: n * 1000)),
    ),
    min_size=1,
    max_size=6,
)


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
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


async def _merchant(database_url: str) -> tuple[str, int]:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            created = await merchant_service.create_merchant(
                session, name="prop", callback_url=None, allow_private_callbacks=True
            )
            await gateway_account_service.set_account(
                session, merchant_id=created.merchant.id, code="sandbox", config={}
            )
        return created.api_key, 0
    finally:
        await db.dispose()


def _check_amounts(payment: dict[str, Any]) -> None:
    amount = Decimal(payment["amount"])
    authorized = Decimal(payment["authorized_amount"])
    captured = Decimal(payment["captured_amount"])
    refunded = Decimal(payment["refunded_amount"])
    assert Decimal(0) <= refunded <= captured <= authorized <= amount
    assert Decimal(payment["marketplace_commission"]) + Decimal(payment["seller_amount"]) == amount


async def _scenario(server: str, database_url: str, method: str, plan: list[Any]) -> None:
    api_key, _ = await _merchant(database_url)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=30) as client:
        created = await client.post(
            "/api/v1/payments/create",
            json={
                "order_id": "prop",
                "amount": "150000",
                "currency": "VND",
                "gateway": "sandbox",
                "capture_method": method,
            },
            headers={"Idempotency-Key": f"prop-{method}"},
        )
        assert created.status_code == 201, created.text
        payment_id = created.json()["id"]
        chosen = await client.post(
            f"/sandbox/checkout/{payment_id}",
            data={"outcome": "succeed"},
            headers={"Accept": "application/json"},
        )
        assert chosen.status_code == 200
        for _ in range(500):  # the worker applies the sandbox's notification asynchronously
            if (await client.get(f"/api/v1/payments/{payment_id}")).json()["status"] != "pending":
                break
            await asyncio.sleep(0.02)
        for kind, amount in plan:
            before = (await client.get(f"/api/v1/payments/{payment_id}")).json()
            events_before = (await client.get(f"/api/v1/payments/{payment_id}/events")).json()
            body = {} if amount is None or kind == "void" else {"amount": str(amount)}
            response = await client.post(f"/api/v1/payments/{payment_id}/{kind}", json=body)
            after = (await client.get(f"/api/v1/payments/{payment_id}")).json()
            assert response.status_code < 500, response.text
            _check_amounts(after)
            if response.status_code >= 400:
                assert response.json()["error"]["code"]
                events_after = (await client.get(f"/api/v1/payments/{payment_id}/events")).json()
                assert after == before, f"{kind} {amount} was refused but changed the payment"
                assert events_after == events_before
            else:
                assert response.json() == after


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=st.sampled_from(["manual", "automatic"]), plan=steps)
def test_random_commands_through_the_api_keep_the_money_invariants(
    server: str, database_url: str, method: str, plan: list[Any]
) -> None:
    in_thread(lambda: _scenario(server, database_url, method, plan))
