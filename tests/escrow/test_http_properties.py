"""Hypothesis over the real service: random capture/refund/release sequences of a marketplace
payment through HTTP; after every step the stored escrow is the rule's split of the stored
payment (commission + seller share + refunded = captured, no part negative), and a refused
step changed nothing.

Each example runs on its own event loop in a worker thread, with its own merchant.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from tests.escrow.helpers import check_split, in_thread

steps = st.lists(
    st.tuples(
        st.sampled_from(["capture", "refund", "refund", "escrow/release"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=1_300_000)),  # in paras
    ),
    min_size=1,
    max_size=6,
)


async def _merchant(db: Database) -> str:
    async with db.transaction() as session:
        created = await merchant_service.create_merchant(
            session, name="escrow-prop", callback_url=None, allow_private_callbacks=True
        )
        await gateway_account_service.set_account(
            session, merchant_id=created.merchant.id, code="sandbox", config={}
        )
    return created.api_key


async def _stored(db: Database, payment_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    async with db.session() as session:
        transaction = (
            (
                await session.execute(
                    text("SELECT * FROM payment_transactions WHERE payment_request_id = :p"),
                    {"p": uuid.UUID(payment_id)},
                )
            )
            .mappings()
            .one()
        )
        escrow = (
            (
                await session.execute(
                    text("SELECT * FROM escrow_payments WHERE payment_transaction_id = :t"),
                    {"t": transaction["id"]},
                )
            )
            .mappings()
            .one_or_none()
        )
    return (None if escrow is None else dict(escrow)), dict(transaction)


async def _scenario(server: str, database_url: str, manual: bool, plan: list[Any]) -> None:
    db = Database(database_url)
    try:
        api_key = await _merchant(db)
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(base_url=server, headers=headers, timeout=30) as client:
            created = await client.post(
                "/api/v1/payments/create",
                json={
                    "order_id": "escrow-prop",
                    "amount": "12345.67",
                    "currency": "RSD",
                    "gateway": "sandbox",
                    "capture_method": "manual" if manual else "automatic",
                    "seller_id": "seller-prop",
                    "listing_id": "listing-prop",
                },
                headers={"Idempotency-Key": "escrow-prop"},
            )
            assert created.status_code == 201, created.text
            payment_id = created.json()["id"]
            chosen = await client.post(
                f"/sandbox/checkout/{payment_id}",
                data={"outcome": "succeed"},
                headers={"Accept": "application/json"},
            )
            assert chosen.status_code == 200
            for _ in range(500):  # the worker applies the sandbox's notification
                if (await client.get(f"/api/v1/payments/{payment_id}")).json()[
                    "status"
                ] != "pending":
                    break
                await asyncio.sleep(0.02)
            for action, amount in plan:
                before = await _stored(db, payment_id)
                body = (
                    {}
                    if amount is None or action == "escrow/release"
                    else {"amount": str(Decimal(amount) / 100)}
                )
                response = await client.post(f"/api/v1/payments/{payment_id}/{action}", json=body)
                assert response.status_code < 500, response.text
                escrow, transaction = await _stored(db, payment_id)
                assert escrow is not None  # secured at authorization or capture
                if transaction["captured_amount"] > 0:
                    check_split(escrow, transaction)
                else:
                    assert escrow["status"] == "held"
                    assert escrow["captured_amount"] == escrow["amount"] == 0
                if response.status_code >= 400:
                    assert response.json()["error"]["code"]
                    assert (escrow, transaction) == before, f"{action} {amount} was refused"
                else:
                    assert response.json()["escrow"]["amount"] == f"{escrow['amount']:.2f}"
    finally:
        await db.dispose()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(manual=st.booleans(), plan=steps)
def test_random_escrow_sequences_through_the_api_keep_the_split(
    server: str, database_url: str, manual: bool, plan: list[Any]
) -> None:
    in_thread(lambda: _scenario(server, database_url, manual, plan))
