"""A merchant with a SePay account pointed at a running emulator, and the waits the flows need:
the emulator's webhook delivery, the worker's inbox and the merchant's callbacks."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from payrelay.kit.db import Database
from payrelay.models import PaymentCallback
from tests import inbox
from tests.factories import MerchantClient

API_KEY = "sepay-webhook-key-0123456789"
API_TOKEN = "SEPAYAPITOKEN0123456789ABCDEF"
HMAC_SECRET = "whsec_test_123"
BANK_ACCOUNT = "0123499999"
EMULATOR_OPTIONS = {
    "api_key": API_KEY,
    "api_token": API_TOKEN,
    "hmac_secret": HMAC_SECRET,
    "account_number": BANK_ACCOUNT,
    "code_templates": "PR:20-20:NumberAndLetter",
    "time_scale": "0.005",  # a SePay minute lasts 5 ms: the whole retry schedule takes 0.2 s
    "rate_limit": "0",
}
ACCOUNT_CONFIG = {
    "bank_account": BANK_ACCOUNT,
    "bank_code": "Vietcombank",
    "account_name": "CONG TY PAYRELAY",
    "payment_code_prefix": "PR",
    "webhook_auth": "apikey",
    "webhook_api_key": API_KEY,
    "webhook_secret": HMAC_SECRET,
    "api_token": API_TOKEN,
}
DELIVERED = {"delivered", "dead"}


def later(**delta: float):
    moment = datetime.now(UTC) + timedelta(**delta)
    return lambda: moment


@dataclass
class SepayShop:
    shop: MerchantClient
    account_id: int
    webhook_url: str
    emulator_url: str
    control: httpx.AsyncClient  # the emulator's control and API endpoints
    db: Database

    async def created(self, **overrides: Any) -> dict[str, Any]:
        return await self.shop.created(gateway="sepay", **overrides)

    async def transfer(self, content: str, amount: int, **spec: Any) -> dict[str, Any]:
        """A transfer reaching the bank account; answers once its webhook delivery is over."""
        response = await self.control.post(
            "/_emulator/transfers",
            json={"content": content, "amount": amount, "wait": True, **spec},
        )
        assert response.status_code == 201, response.text
        view: dict[str, Any] = response.json()
        return view

    async def paid(self, content: str, amount: int, **spec: Any) -> dict[str, Any]:
        """A transfer delivered, acknowledged and applied by the worker."""
        view = await self.transfer(content, amount, **spec)
        assert view["delivery"]["status"] == "delivered", view
        await inbox.drained(self.account_id)
        return view

    async def replay(self, transfer_id: int) -> dict[str, Any]:
        response = await self.control.post(
            f"/_emulator/transfers/{transfer_id}/replay", json={"wait": True}
        )
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def emulate(self, **changes: Any) -> None:
        response = await self.control.post("/_emulator/settings", json=changes)
        assert response.status_code == 200, response.text

    async def webhooks(self) -> list[dict[str, Any]]:
        """This account's inbox rows, oldest first."""
        async with self.db.session() as session:
            result = await session.execute(
                text(
                    "SELECT webhook_id, status, error, event_type, headers, raw_body "
                    "FROM payment_webhooks WHERE gateway_account_id = :a ORDER BY id"
                ),
                {"a": self.account_id},
            )
            return [dict(row) for row in result.mappings().all()]

    async def event_types(self, payment_id: str) -> list[str]:
        return [event["event_type"] for event in await self.shop.events(payment_id)]


def body_of(row: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(bytes(row["raw_body"]))
    return parsed


async def callbacks(
    db: Database, payment_id: str, count: int, within: float = 15
) -> list[PaymentCallback]:
    """The payment's callbacks once `count` of them were delivered (or gave up)."""
    deadline = time.monotonic() + within
    found: list[PaymentCallback] = []
    while time.monotonic() < deadline:
        async with db.session() as session:
            result = await session.execute(
                select(PaymentCallback)
                .where(PaymentCallback.payment_request_id == payment_id)
                .order_by(PaymentCallback.sequence)
            )
            found = list(result.scalars())
        if len(found) >= count and all(c.status in DELIVERED for c in found[:count]):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"callbacks did not settle: {[c.status for c in found]}")


async def delivered(db: Database, payment_id: str, *event_types: str) -> list[dict[str, Any]]:
    """Exactly these callbacks, in order, all delivered; their payloads."""
    found = await callbacks(db, payment_id, len(event_types))
    assert [c.event_type for c in found] == list(event_types)
    assert all(c.status == "delivered" for c in found), [c.status for c in found]
    return [c.payload for c in found]
