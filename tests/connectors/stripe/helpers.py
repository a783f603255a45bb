"""Stripe test helpers: a merchant with a Stripe account of its own on a running emulator (its own
secret key, a webhook endpoint registered through Stripe's API), and the emulator's control API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from payrelay.connectors.stripe.webhooks import HANDLED_EVENTS
from payrelay.gateway_account import service as gateway_account_service
from payrelay.payment.tasks import janitor
from tests import inbox
from tests.factories import Factory, MerchantClient
from tests.idempotency.helpers import execute

VISA = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
THREE_D_SECURE = "4000002500003155"


@dataclass
class Emulator:
    url: str

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.request(method, path, **kwargs)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, f"/_emulator/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def api(
        self, method: str, path: str, key: str, data: Any = None, **headers: str
    ) -> httpx.Response:
        """A call to Stripe's API as any client makes it: form body, Bearer key."""
        sent = {"Authorization": f"Bearer {key}", **headers}
        if method == "GET":
            return await self.call(method, path, params=data, headers=sent)
        return await self.call(method, path, data=data, headers=sent)

    async def new_key(self) -> str:
        answer: dict[str, str] = await self.control("POST", "accounts")
        return answer["secret_key"]

    async def pay(self, session_id: str, card: str = VISA, notify: bool = True) -> Any:
        return await self.control(
            "POST", f"checkout/{session_id}/pay", {"card": card, "notify": notify}
        )

    async def calls(
        self, operation: str | None = None, key: str | None = None
    ) -> list[dict[str, Any]]:
        """API calls received (those of the account with secret `key`)."""
        found: list[dict[str, Any]] = await self.control("GET", "calls")
        return [
            c
            for c in found
            if (operation is None or c["operation"] == operation)
            and (key is None or c.get("account") == key)
        ]

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.control("GET", "events")
        return [e for e in found if event_type is None or e["event"]["type"] == event_type]

    async def obj(self, object_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.control("GET", f"objects/{object_id}")
        return found

    async def fault(self, operation: str, mode: str, times: int = 1) -> None:
        await self.control("POST", "faults", {"operation": operation, "mode": mode, "times": times})

    async def pause(self, paused: bool = True) -> None:
        await self.control("POST", "delivery", {"paused": paused})

    async def deliver(self, event_id: str) -> Any:
        return await self.control("POST", f"events/{event_id}/deliver")


@dataclass
class StripeShop:
    shop: MerchantClient
    account_id: int
    emulator: Emulator
    secret_key: str
    webhook_secret: str
    endpoint_id: str

    async def create(self, **overrides: Any) -> httpx.Response:
        body = {"gateway": "stripe", "currency": "USD", "amount": "150.00", **overrides}
        return await self.shop.create(**body)

    async def created(self, **overrides: Any) -> dict[str, Any]:
        response = await self.create(**overrides)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def pay(self, payment: dict[str, Any], card: str = VISA, **extra: Any) -> Any:
        """The customer pays on Stripe's page; waits until payrelay applied the webhooks."""
        answer = await self.emulator.pay(payment["gateway_transaction_id"], card, **extra)
        await inbox.drained(self.account_id)
        return answer

    async def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        return await self.emulator.calls(operation, self.secret_key)

    async def session(self, payment: dict[str, Any]) -> dict[str, Any]:
        return await self.emulator.obj(payment["gateway_transaction_id"])

    async def intent(self, payment: dict[str, Any]) -> dict[str, Any]:
        session = await self.session(payment)
        return await self.emulator.obj(session["payment_intent"])


async def stripe_shop(
    factory: Factory, emulator_url: str, callback_url: str | None = None
) -> StripeShop:
    """A merchant whose Stripe account is new on the emulator; its webhook endpoint is made with
    Stripe's API (`POST /v1/webhook_endpoints`) for the events the docs list."""
    emulator = Emulator(emulator_url)
    key = await emulator.new_key()
    shop = await factory.merchant(callback_url=callback_url)
    config = {"secret_key": key, "webhook_secret": "whsec_unknown_yet", "base_url": emulator_url}
    async with factory.db.transaction() as session:
        account = await gateway_account_service.set_account(
            session, merchant_id=shop.id, code="stripe", config=config
        )
    url = f"{factory.settings.public_url}/webhooks/stripe/{account.id}"
    form: dict[str, Any] = {"url": url}
    form.update({f"enabled_events[{i}]": name for i, name in enumerate(sorted(HANDLED_EVENTS))})
    response = await emulator.api("POST", "/v1/webhook_endpoints", key, form)
    assert response.status_code == 200, response.text
    endpoint = response.json()
    async with factory.db.transaction() as session:
        await gateway_account_service.set_account(
            session,
            merchant_id=shop.id,
            code="stripe",
            config={**config, "webhook_secret": endpoint["secret"]},
        )
    return StripeShop(shop, account.id, emulator, key, endpoint["secret"], endpoint["id"])


async def delivered(db: Any, payment_id: str, types: list[str]) -> None:
    """The payment's callbacks are exactly `types`, in order, and each reached the merchant."""
    from tests.callback.test_delivery import _settled

    callbacks = await _settled(db, payment_id, len(types))
    assert [callback.event_type for callback in callbacks] == types
    assert [callback.status for callback in callbacks] == ["delivered"] * len(types)


async def release_callbacks(db: Any, merchant_id: Any) -> None:
    """Callbacks queued on a future clock are due now, as if that time had passed."""
    await execute(
        db,
        "UPDATE payment_callbacks SET next_retry_at = now() "
        "WHERE merchant_id = :m AND status = 'pending' AND next_retry_at > now()",
        m=merchant_id,
    )


async def run_janitor(db: Any, http: httpx.AsyncClient, settings: Any, merchant_id: Any) -> None:
    """The janitor on a clock 11 minutes ahead (past `janitor_after`)."""
    moment = datetime.now(UTC) + timedelta(minutes=11)
    await janitor(db, http, settings, lambda: moment)
    await release_callbacks(db, merchant_id)
