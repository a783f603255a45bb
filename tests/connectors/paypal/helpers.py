"""PayPal test helpers: a merchant with a PayPal account on a running emulator (its webhook
registered there, as an operator does in PayPal's dashboard), the buyer, and the control API."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from payrelay.connectors.paypal.emulator_state import CLIENT_ID, CLIENT_SECRET
from payrelay.gateway_account import service as gateway_account_service
from tests import inbox
from tests.factories import Factory, MerchantClient

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@dataclass
class Emulator:
    url: str

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.request(method, path, **kwargs)

    async def token(self) -> str:
        response = await self._call(
            "POST",
            "/v1/oauth2/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to PayPal's API as any client makes it (bearer token)."""
        headers = {"Authorization": f"Bearer {await self.token()}", **kwargs.pop("headers", {})}
        return await self._call(method, path, headers=headers, **kwargs)

    async def register_webhook(self, url: str) -> str:
        response = await self.api(
            "POST", "/v1/notifications/webhooks", json={"url": url, "event_types": [{"name": "*"}]}
        )
        assert response.status_code == 201, response.text
        webhook_id: str = response.json()["id"]
        return webhook_id

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._call(method, f"/_emulator{path}", **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def approve(self, order_id: str, funding: str = "balance", **extra: Any) -> Any:
        return await self.control(
            "POST", f"/orders/{order_id}/approve", json={"funding": funding, **extra}
        )

    async def order(self, order_id: str) -> Any:
        return await self.control("GET", f"/orders/{order_id}")

    async def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        calls = await self.control("GET", "/calls")
        return [call for call in calls if operation is None or call["operation"] == operation]

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        events = await self.control("GET", "/events")
        return [e for e in events if event_type is None or e["event_type"] == event_type]

    async def settings(self, **settings: Any) -> Any:
        return await self.control("POST", "/settings", json=settings)

    async def fault(self, operation: str, mode: str, times: int = 1) -> None:
        await self.control(
            "POST", "/faults", json={"operation": operation, "mode": mode, "times": times}
        )

    async def deliver(self, event_id: str) -> Any:
        return await self.control("POST", f"/events/{event_id}/deliver")


@dataclass
class PaypalShop:
    shop: MerchantClient
    account_id: int
    webhook_id: str
    emulator: Emulator

    async def create(self, **overrides: Any) -> httpx.Response:
        body = {"gateway": "paypal", "currency": "USD", "amount": "100.00", **overrides}
        return await self.shop.create(**body)

    async def created(self, **overrides: Any) -> dict[str, Any]:
        response = await self.create(**overrides)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def approve(self, payment: dict[str, Any], funding: str = "balance", **extra: Any) -> Any:
        """The buyer approves at PayPal; the approval webhook reaches payrelay (the worker then
        completes the payment)."""
        answer = await self.emulator.approve(payment["gateway_transaction_id"], funding, **extra)
        await inbox.drained(self.account_id)
        return answer

    async def status(self, payment_id: str, *wanted: str, within: float = 10) -> dict[str, Any]:
        """The payment once its status is one of `wanted` (completion runs in the worker)."""
        deadline = time.monotonic() + within
        while True:
            payment = await self.shop.get(payment_id)
            if payment["status"] in wanted:
                return payment
            if time.monotonic() > deadline:
                raise AssertionError(f"payment is {payment['status']}, not {wanted}")
            await asyncio.sleep(0.05)


async def paypal_shop(
    factory: Factory, emulator_url: str, callback_url: str | None = None, **config: Any
) -> PaypalShop:
    shop = await factory.merchant(callback_url=callback_url)
    emulator = Emulator(emulator_url)
    settings = {**CREDENTIALS, "base_url": emulator_url, **config}
    async with factory.db.transaction() as session:
        account = await gateway_account_service.set_account(
            session, merchant_id=shop.id, code="paypal", config=settings
        )
    hook_url = gateway_account_service.webhook_url(
        factory.settings.resolved_public_url(), "paypal", account.id
    )
    webhook_id = await emulator.register_webhook(hook_url)
    async with factory.db.transaction() as session:  # the id PayPal's dashboard shows
        await gateway_account_service.set_account(
            session,
            merchant_id=shop.id,
            code="paypal",
            config={**settings, "webhook_id": webhook_id},
        )
    return PaypalShop(shop, account.id, webhook_id, emulator)


async def delivered(db: Any, payment_id: str, types: list[str]) -> None:
    """The payment's callbacks are exactly `types`, in order, and each reached the merchant."""
    from tests.callback.test_delivery import _settled

    callbacks = await _settled(db, payment_id, len(types))
    assert [callback.event_type for callback in callbacks] == types
    assert [callback.status for callback in callbacks] == ["delivered"] * len(types)


async def wait_for(check: Any, within: float = 10) -> Any:
    """Poll the async `check` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        await asyncio.sleep(0.05)
