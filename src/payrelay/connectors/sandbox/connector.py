"""The sandbox gateway's HTTP client. The sandbox itself is served by payrelay (`/sandbox/...`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from payrelay.connectors.base import (
    Capabilities,
    ConfigInvalid,
    Connector,
    CreatePayment,
    GatewayEvent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationRequest,
    OperationResult,
    PaymentResult,
    StatusQuery,
)
from payrelay.connectors.sandbox import transformers, webhooks

T = TypeVar("T")

CONFIG_KEYS = frozenset({"api_key", "webhook_secret"})


class SandboxConnector(Connector):
    code = "sandbox"
    display_name = "Sandbox"
    capabilities = Capabilities(default_payment_method="card", reports_operations=True)

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigInvalid(f"unknown sandbox config keys: {', '.join(sorted(unknown))}")
        prepared = dict(config)
        for key in CONFIG_KEYS:
            value = prepared.get(key)
            if value is None:
                prepared[key] = "sbx_" + secrets.token_urlsafe(24)
            elif not isinstance(value, str) or len(value) < 16:
                raise ConfigInvalid(f"sandbox {key} must be a string of at least 16 characters")
        return prepared

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        response = await self._post(
            self._url("payments"),
            transformers.create_body(request, notify_url=self.account.webhook_url),
            request.idempotency_key,
        )
        body = self._json(response)
        if response.is_client_error:
            return transformers.rejected_payment(response.status_code, body)
        return self._parse(transformers.payment_result, body)

    async def capture(self, request: OperationRequest) -> OperationResult:
        return await self._operation(request, "capture")

    async def void(self, request: OperationRequest) -> OperationResult:
        return await self._operation(request, "void")

    async def refund(self, request: OperationRequest) -> OperationResult:
        return await self._operation(request, "refunds")

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        reference = query.gateway_transaction_id or f"by-reference/{query.payment_id}"
        response = await self.send("GET", self._url(f"payments/{reference}"), headers=self._auth())
        body = self._json(response)
        if response.is_client_error:
            return transformers.rejected_payment(response.status_code, body)
        return self._parse(transformers.payment_result, body)

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        webhooks.verify(str(self.account.config["webhook_secret"]), webhook)

    async def cancel_unpaid(self, query: StatusQuery) -> PaymentResult:
        if query.gateway_transaction_id is None:
            return await self.query_status(query)
        response = await self._post(
            self._url(f"payments/{query.gateway_transaction_id}/cancel"),
            {},
            f"payrelay-cancel-{query.payment_id}",
        )
        body = self._json(response)
        if response.is_client_error:  # refused: already paid, declined or cancelled
            return await self.query_status(query)
        return self._parse(transformers.payment_result, body["payment"])

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(webhook)

    async def _operation(self, request: OperationRequest, action: str) -> OperationResult:
        response = await self._post(
            self._url(f"payments/{request.gateway_transaction_id}/{action}"),
            transformers.operation_body(request.amount, request.reason),
            request.idempotency_key,
        )
        body = self._json(response)
        if response.is_client_error:
            return transformers.rejected_operation(response.status_code, body)
        return self._parse(transformers.operation_result, body)

    async def _post(
        self, url: str, body: Mapping[str, Any], idempotency_key: str
    ) -> httpx.Response:
        headers = {**self._auth(), "Idempotency-Key": idempotency_key}
        return await self.send("POST", url, json=body, headers=headers)

    def _url(self, path: str) -> str:
        return f"{self.base_url}/sandbox/api/v1/accounts/{self.account.id}/{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account.config['api_key']}"}

    @staticmethod
    def _parse(parser: Callable[[dict[str, Any]], T], body: dict[str, Any]) -> T:
        try:
            return parser(body)
        except transformers.MalformedResponse as exc:
            raise GatewayOutcomeUnknown(str(exc)) from exc

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise GatewayOutcomeUnknown("sandbox answered with a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise GatewayOutcomeUnknown("sandbox answered with a JSON body that is not an object")
        return body
