"""Plain async builders with keyword defaults; every test gets its own merchant, so tests never
share state and need no cleanup (the audit log cannot be deleted anyway)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from payrelay.config import Settings
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from tests import inbox


@dataclass
class MerchantClient:
    """A merchant with its API key and a sandbox account, and helpers to call the API as it."""

    id: uuid.UUID
    api_key: str
    callback_secret: str
    sandbox_account_id: int
    http: httpx.AsyncClient
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def new_key(self) -> str:
        return f"test-{uuid.uuid4()}"

    async def create(self, key: str | None = None, **overrides: Any) -> httpx.Response:
        self.counter[0] += 1
        body: dict[str, Any] = {
            "order_id": f"order-{self.counter[0]}",
            "amount": "150000",
            "currency": "VND",
            "gateway": "sandbox",
        }
        body.update(overrides)
        headers = {**self.headers, "Idempotency-Key": key or self.new_key()}
        return await self.http.post("/api/v1/payments/create", json=body, headers=headers)

    async def created(self, **overrides: Any) -> dict[str, Any]:
        response = await self.create(**overrides)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def checkout(self, payment_id: str, outcome: str) -> httpx.Response:
        """Choose the outcome on the sandbox page; wait until the worker applied the sandbox's
        notification (there is none for `timeout`)."""
        response = await self.http.post(
            f"/sandbox/checkout/{payment_id}",
            data={"outcome": outcome},
            headers={"Accept": "application/json"},
        )
        if response.status_code == 200 and response.json().get("notified"):
            await inbox.drained(self.sandbox_account_id)
        return response

    async def get(self, payment_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/payments/{payment_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def command(
        self,
        payment_id: str,
        action: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(
            f"/api/v1/payments/{payment_id}/{action}", json=body or {}, headers=headers
        )

    async def events(self, payment_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"/api/v1/payments/{payment_id}/events", headers=self.headers
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def authorized(self, **overrides: Any) -> dict[str, Any]:
        payment = await self.created(capture_method="manual", **overrides)
        response = await self.checkout(payment["id"], "succeed")
        assert response.status_code == 200, response.text
        return await self.get(payment["id"])

    async def captured(self, **overrides: Any) -> dict[str, Any]:
        payment = await self.created(**overrides)
        response = await self.checkout(payment["id"], "succeed")
        assert response.status_code == 200, response.text
        return await self.get(payment["id"])


@dataclass
class Factory:
    db: Database
    http: httpx.AsyncClient
    settings: Settings

    async def merchant(
        self,
        *,
        commission_rate: Decimal = Decimal("0.05"),
        name: str = "Test shop",
        callback_url: str | None = None,
    ) -> MerchantClient:
        async with self.db.transaction() as session:
            created = await merchant_service.create_merchant(
                session,
                name=name,
                callback_url=callback_url,
                commission_rate=commission_rate,
                allow_private_callbacks=True,
            )
            account = await gateway_account_service.set_account(
                session, merchant_id=created.merchant.id, code="sandbox", config={}
            )
        return MerchantClient(
            id=created.merchant.id,
            api_key=created.api_key,
            callback_secret=created.merchant.callback_secret,
            sandbox_account_id=account.id,
            http=self.http,
        )
