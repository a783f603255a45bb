"""The Stripe emulator's webhooks: events signed (`Stripe-Signature`) and sent to the account's
endpoints, with retries. No HTTP framework here (httpx only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx

from payrelay.connectors.stripe.emulator_state import Account, Delivery, Endpoint, StripeState
from payrelay.kit.crypto import hmac_sha256_hex


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return ",".join(
        [f"t={timestamp}", *(f"v1={hmac_sha256_hex(s.encode(), signed)}" for s in secrets)]
    )


class Notifier:
    """Sends events to the account's endpoints; failed deliveries are retried in the
    background (`webhook_retries`, from `webhook_retry_seconds`, doubling)."""

    def __init__(self, state: StripeState) -> None:
        self.state = state
        self.tasks: set[asyncio.Task[None]] = set()

    async def now(self, events: list[tuple[Account, dict[str, Any]]]) -> None:
        if self.state.paused:
            return
        for account, event in events:
            await self.deliver(account, event, self.state.options.webhook_retries)

    def later(self, events: list[tuple[Account, dict[str, Any]]]) -> None:
        if events and not self.state.paused:
            self._spawn(self.now(events))

    async def deliver(self, account: Account, event: dict[str, Any], retries: int) -> None:
        for endpoint in list(account.endpoints.values()):
            if not endpoint.wants(event["type"]):
                continue
            delivery = self._delivery(event, endpoint)
            if not await self.attempt(event, endpoint, delivery) and retries > 0:
                self._spawn(self._retry(event, endpoint, delivery, retries))

    async def _retry(
        self, event: dict[str, Any], endpoint: Endpoint, delivery: Delivery, retries: int
    ) -> None:
        delay = self.state.options.webhook_retry_seconds
        for _ in range(retries):
            await asyncio.sleep(delay)
            if await self.attempt(event, endpoint, delivery):
                return
            delay *= 2

    async def attempt(self, event: dict[str, Any], endpoint: Endpoint, delivery: Delivery) -> bool:
        body = self.state.raw[str(event["id"])]
        timestamp = self.state.now()
        header = signature_header(endpoint.active_secrets(self.state.clock()), timestamp, body)
        try:
            async with httpx.AsyncClient(
                timeout=self.state.options.webhook_timeout_seconds
            ) as client:
                response = await client.post(
                    endpoint.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "Stripe-Signature": header,
                        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    },
                )
        except httpx.HTTPError as exc:
            delivery.attempts.append({"error": type(exc).__name__, "signature": header})
            return False
        delivery.attempts.append({"status": response.status_code, "signature": header})
        if response.is_success and not delivery.delivered:
            delivery.delivered = True
            event["pending_webhooks"] = max(int(event["pending_webhooks"]) - 1, 0)
        return response.is_success

    def _delivery(self, event: dict[str, Any], endpoint: Endpoint) -> Delivery:
        deliveries = self.state.deliveries.setdefault(str(event["id"]), [])
        for delivery in deliveries:
            if delivery.endpoint_id == endpoint.id:
                return delivery
        delivery = Delivery(str(event["id"]), endpoint.id)
        deliveries.append(delivery)
        return delivery

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
