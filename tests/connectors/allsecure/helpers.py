"""AllSecure test helpers: a merchant whose AllSecure account points at a running emulator, the
emulator's control API, and requests and callbacks signed the way AllSecure signs them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx

from payrelay.gateway_account import service as gateway_account_service
from tests import inbox
from tests.factories import Factory, MerchantClient

API_KEY, SECRET = "allsecure-test-api-key", "allsecure-test-shared-secret"
USERNAME, PASSWORD = "allsecure-test-user", "allsecure-test-password"
CREDENTIALS = {"api_key": API_KEY, "shared_secret": SECRET, "username": USERNAME}
CONFIG = {**CREDENTIALS, "password": PASSWORD}
JSON_TYPE = "application/json; charset=utf-8"


def x_signature(
    secret: str, method: str, body: bytes, date: str, uri: str, body_hash: str = "md5"
) -> str:
    """IXOPAY's signature, written out here independently of payrelay's code."""
    hashed = hashlib.new(body_hash, body).hexdigest()
    text = f"{method}\n{hashed}\n{JSON_TYPE}\n{date}\n{uri}"
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha512).digest()
    ).decode()


def now_date() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


@dataclass
class Emulator:
    url: str

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.request(method, path, **kwargs)

    async def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        secret: str = SECRET,
        auth: tuple[str, str] = (USERNAME, PASSWORD),
        date: str | None = None,
        body_hash: str = "md5",
    ) -> httpx.Response:
        """A request to the emulator's AllSecure API, signed as any client would."""
        content = b"" if body is None else json.dumps(body).encode()
        date = date or now_date()
        headers = {
            "Content-Type": JSON_TYPE,
            "Date": date,
            "X-Signature": x_signature(secret, method, content, date, path, body_hash),
        }
        async with httpx.AsyncClient(base_url=self.url, timeout=30, auth=auth) as client:
            return await client.request(method, path, content=content, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def next(self, outcome: str, **extra: Any) -> None:
        await self.ok("POST", "/_emulator/next", {"outcome": outcome, **extra})

    async def complete(self, uuid: str, outcome: str = "approve", **extra: Any) -> dict:
        answer: dict[str, Any] = await self.ok(
            "POST", f"/_emulator/transactions/{uuid}/complete", {"outcome": outcome, **extra}
        )
        return answer

    async def notify_again(self, uuid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.ok("POST", f"/_emulator/transactions/{uuid}/notify")
        return answer["callback"]

    async def transaction(self, uuid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.ok("GET", f"/_emulator/transactions/{uuid}")
        return answer

    async def transactions(self, kind: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.ok("GET", "/_emulator/transactions")
        return [item for item in found if kind is None or item["transactionType"] == kind]

    async def called_back(self, uuid: str, count: int = 1) -> list[dict[str, Any]]:
        """The transaction's callbacks once `count` of them were attempted (the emulator sends
        the callback of an answer in the background, after the answer)."""
        for _ in range(500):
            callbacks: list[dict[str, Any]] = (await self.transaction(uuid))["callbacks"]
            if len(callbacks) >= count and all(c["attempts"] for c in callbacks[:count]):
                return callbacks
            await asyncio.sleep(0.02)
        raise AssertionError(f"the emulator did not call back for {uuid}")

    async def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = await self.ok("GET", "/_emulator/calls")
        return [call for call in calls if operation is None or call["operation"] == operation]

    async def fault(self, operation: str, mode: str, times: int = 1) -> None:
        body = {"operation": operation, "mode": mode, "times": times}
        await self.ok("POST", "/_emulator/faults", body)


@dataclass
class AllSecureShop:
    shop: MerchantClient
    account_id: int
    webhook_url: str
    emulator: Emulator

    async def create(self, **overrides: Any) -> httpx.Response:
        body = {"gateway": "allsecure", "currency": "RSD", "amount": "1250.50", **overrides}
        return await self.shop.create(**body)

    async def created(self, **overrides: Any) -> dict[str, Any]:
        response = await self.create(**overrides)
        assert response.status_code == 201, response.text
        payment: dict[str, Any] = response.json()
        return payment

    async def pay(self, payment: dict[str, Any], outcome: str = "approve", **extra: Any) -> dict:
        """The customer's choice on AllSecure's page; waits until payrelay applied the callback."""
        answer = await self.emulator.complete(payment["gateway_transaction_id"], outcome, **extra)
        await inbox.drained(self.account_id)
        return answer

    async def authorized(self, **overrides: Any) -> dict[str, Any]:
        payment = await self.created(capture_method="manual", **overrides)
        await self.pay(payment)
        authorized = await self.shop.get(payment["id"])
        assert authorized["status"] == "authorized", authorized
        return authorized

    async def post_callback(
        self,
        http: httpx.AsyncClient,
        body: bytes,
        *,
        secret: str = SECRET,
        date: str | None = None,
        uri: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bytes | None = None,
    ) -> httpx.Response:
        """A callback to payrelay signed like AllSecure signs them (or as a test forges it:
        `signed` is the body the signature covers when it is not the one sent)."""
        date = date or now_date()
        path = uri or httpx.URL(self.webhook_url).raw_path.decode()
        sent = {
            "Content-Type": JSON_TYPE,
            "Date": date,
            "X-Signature": x_signature(secret, "POST", signed or body, date, path),
            **(headers or {}),
        }
        response = await http.post(self.webhook_url, content=body, headers=sent)
        if response.status_code == 200:
            await inbox.drained(self.account_id)
        return response


async def allsecure_shop(
    factory: Factory, emulator_url: str, callback_url: str | None = None
) -> AllSecureShop:
    shop = await factory.merchant(callback_url=callback_url)
    async with factory.db.transaction() as session:
        account = await gateway_account_service.set_account(
            session,
            merchant_id=shop.id,
            code="allsecure",
            config={**CONFIG, "base_url": emulator_url},
        )
    webhook_url = f"{factory.settings.resolved_public_url()}/webhooks/allsecure/{account.id}"
    return AllSecureShop(shop, account.id, webhook_url, Emulator(emulator_url))


async def delivered(db: Any, payment_id: str, types: list[str]) -> None:
    """The payment's callbacks are exactly `types`, in order, and each reached the merchant."""
    from tests.callback.test_delivery import _settled

    callbacks = await _settled(db, payment_id, len(types))
    assert [callback.event_type for callback in callbacks] == types
    assert [callback.status for callback in callbacks] == ["delivered"] * len(types)
