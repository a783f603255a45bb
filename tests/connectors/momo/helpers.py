"""MoMo test helpers: a merchant with a MoMo account on a running emulator, and the emulator's
control API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from payrelay.connectors.momo import signatures
from payrelay.gateway_account import service as gateway_account_service
from tests import inbox
from tests.factories import Factory, MerchantClient

PARTNER, ACCESS, SECRET = "MOMO", "F8BBA842ECF85", "K951B6PE1waDMi640xX08PD3vg6EkVlz"
CREDENTIALS = {"partner_code": PARTNER, "access_key": ACCESS, "secret_key": SECRET}


@dataclass
class MomoShop:
    shop: MerchantClient
    account_id: int
    emulator: Emulator

    async def create(self, **overrides: Any) -> httpx.Response:
        return await self.shop.create(**{"gateway": "momo", **overrides})

    async def created(self, **overrides: Any) -> dict[str, Any]:
        response = await self.create(**overrides)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def pay(self, payment: dict[str, Any], outcome: str = "success", **extra: Any) -> dict:
        """The customer's choice on MoMo's page; waits until payrelay applied the IPN."""
        answer = await self.emulator.pay(payment["gateway_transaction_id"], outcome, **extra)
        await inbox.drained(self.account_id)
        return answer


async def momo_shop(
    factory: Factory, emulator_url: str, callback_url: str | None = None, **config: Any
) -> MomoShop:
    shop = await factory.merchant(callback_url=callback_url)
    async with factory.db.transaction() as session:
        account = await gateway_account_service.set_account(
            session,
            merchant_id=shop.id,
            code="momo",
            config={**CREDENTIALS, "base_url": emulator_url, **config},
        )
    return MomoShop(shop, account.id, Emulator(emulator_url))


@dataclass
class Emulator:
    url: str

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.request(method, path, **kwargs)

    async def api(
        self, operation: str, body: dict[str, Any], secret: str = SECRET
    ) -> httpx.Response:
        """A signed call to MoMo's API, as any client would make it."""
        fields = {
            "create": signatures.CREATE,
            "query": signatures.QUERY,
            "confirm": signatures.CONFIRM,
            "refund": signatures.REFUND,
        }[operation]
        signed = signatures.signed(secret, ACCESS, fields, body)
        return await self._call("POST", f"/v2/gateway/api/{operation}", json=signed)

    async def pay(self, order_id: str, outcome: str = "success", **extra: Any) -> dict[str, Any]:
        response = await self._call(
            "POST", f"/_emulator/orders/{order_id}/pay", json={"outcome": outcome, **extra}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def notify_again(self, order_id: str) -> dict[str, Any]:
        response = await self._call("POST", f"/_emulator/orders/{order_id}/notify")
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()["ipn"]
        return answer

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self._call("GET", f"/_emulator/orders/{order_id}")
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        response = await self._call("GET", "/_emulator/calls")
        calls: list[dict[str, Any]] = response.json()
        return [call for call in calls if operation is None or call["operation"] == operation]

    async def fault(self, operation: str, mode: str, times: int = 1) -> None:
        response = await self._call(
            "POST", "/_emulator/faults", json={"operation": operation, "mode": mode, "times": times}
        )
        assert response.status_code == 200, response.text


async def delivered(db: Any, payment_id: str, types: list[str]) -> None:
    """The payment's callbacks are exactly `types`, in order, and each reached the merchant."""
    from tests.callback.test_delivery import _settled

    callbacks = await _settled(db, payment_id, len(types))
    assert [callback.event_type for callback in callbacks] == types
    assert [callback.status for callback in callbacks] == ["delivered"] * len(types)
