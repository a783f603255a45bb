"""MoMo's HTTP client: create, query, confirm (capture/cancel) and refund, all `POST` JSON."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from payrelay.connectors.base import (
    Capabilities,
    Connector,
    CreatePayment,
    Decline,
    GatewayEvent,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationOutcome,
    OperationRequest,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
    StatusQuery,
    WebhookAck,
)
from payrelay.connectors.momo import transformers, webhooks
from payrelay.connectors.momo.transformers import (
    AMOUNT_LIMITS,
    PAYMENT_METHODS,
    MalformedResponse,
    MomoConfig,
    OutcomeAmbiguous,
)

CURRENCY = "VND"
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def capabilities_of(request_type: str) -> Capabilities:
    low, high = AMOUNT_LIMITS[request_type]
    return Capabilities(
        manual_capture=True,
        partial_capture=False,  # confirm must name the held amount exactly (else 22)
        partial_refund=True,
        multiple_refunds=True,
        void=True,
        status_query=True,
        reports_operations=False,  # the query lists our refunds, not our confirms
        cancel_unpaid=False,  # MoMo has no call to close an unpaid order
        currencies=frozenset({CURRENCY}),
        min_amount={CURRENCY: low},
        max_amount={CURRENCY: high},
        default_payment_method=PAYMENT_METHODS[request_type],
    )


class MomoConnector(Connector):
    code = "momo"
    display_name = "MoMo"
    capabilities: ClassVar[Capabilities] = capabilities_of(transformers.DEFAULTS["request_type"])

    @classmethod
    def capabilities_for(cls, config: Mapping[str, Any]) -> Capabilities:
        request_type = config.get("request_type", transformers.DEFAULTS["request_type"])
        if request_type not in AMOUNT_LIMITS:
            return cls.capabilities
        return capabilities_of(request_type)

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return MomoConfig.of(config).as_dict()

    @property
    def base_url(self) -> str:
        return (self.account.base_url or transformers.TEST_HOST).rstrip("/")

    @property
    def config(self) -> MomoConfig:
        return MomoConfig.of(self.account.config)

    # --- payments --------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        if request.currency != CURRENCY:
            return _refused("unsupported_currency", f"MoMo takes VND only, not {request.currency}")
        try:
            body = transformers.create_body(request, self.config, self.account.webhook_url)
        except ValueError as exc:
            return _refused("invalid_request", str(exc))
        response = await self._post("create", body)
        answer = self._read(response)
        if answer is None:
            return _refused(f"http_{response.status_code}", "MoMo refused the request")
        try:
            return transformers.create_result(response.status_code, answer)
        except (OutcomeAmbiguous, MalformedResponse) as exc:
            raise GatewayOutcomeUnknown(f"create: {exc}") from exc

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        order_id = query.gateway_transaction_id or transformers.order_id_for(query.order_reference)
        answer = await self._query(order_id)
        try:
            return transformers.status_result(answer)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"query: {exc}") from exc

    # --- operations ------------------------------------------------------------------------

    async def capture(self, request: OperationRequest) -> OperationResult:
        return await self._confirm(request, "capture")

    async def void(self, request: OperationRequest) -> OperationResult:
        return await self._confirm(request, "cancel")

    async def refund(self, request: OperationRequest) -> OperationResult:
        if request.amount is None:
            return transformers.declined_operation("amount_required", "MoMo needs an amount", {})
        try:  # the refund names the purchase's transId, which only the query tells
            state = await self._query(request.gateway_transaction_id)
        except GatewayOutcomeUnknown as exc:
            raise GatewayNotSent(f"refund not sent, the query failed: {exc}") from exc
        try:
            earlier = transformers.find_refund(state, request.idempotency_key)
        except MalformedResponse as exc:
            raise GatewayNotSent(f"refund not sent, unreadable query: {exc}") from exc
        if earlier is not None and earlier.final:  # a resumed refund MoMo already answered
            return _refund_outcome(earlier.code, earlier.trans_id, state)
        trans_id = transformers.trans_id_of(state)
        if trans_id is None:
            return transformers.declined_operation(
                "not_refundable", "MoMo has no paid transaction for this order", state
            )
        body = transformers.refund_body(self.config, request, request.amount, trans_id)
        response = await self._post("refund", body)
        answer = self._read(response)
        if answer is None:
            return _refused_operation(response.status_code)
        try:
            return transformers.operation_result(answer)
        except OutcomeAmbiguous as exc:
            if exc.code == 40 and earlier is None:  # refused before, never recorded: not done
                return _refund_outcome(40, None, answer)
            raise GatewayOutcomeUnknown(f"refund: {exc}") from exc
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"refund: {exc}") from exc

    async def _confirm(self, request: OperationRequest, request_type: str) -> OperationResult:
        if request.amount is None:
            return transformers.declined_operation("amount_required", "MoMo needs an amount", {})
        body = transformers.confirm_body(self.config, request, request_type, request.amount)
        response = await self._post("confirm", body)
        answer = self._read(response)
        if answer is None:
            return _refused_operation(response.status_code)
        try:
            return transformers.operation_result(answer)
        except OutcomeAmbiguous as exc:
            if exc.code == 40:
                return await self._settle_confirm(request, request_type)
            raise GatewayOutcomeUnknown(f"confirm: {exc}") from exc
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"confirm: {exc}") from exc

    async def _settle_confirm(
        self, request: OperationRequest, request_type: str
    ) -> OperationResult:
        """MoMo answered this requestId before (40) and we never saw the answer: the order's
        state tells whether the confirm happened."""
        try:
            result = transformers.status_result(await self._query(request.gateway_transaction_id))
        except (GatewayNotSent, MalformedResponse) as exc:
            raise GatewayOutcomeUnknown(f"confirm answered before; query failed: {exc}") from exc
        done = PaymentOutcome.CAPTURED if request_type == "capture" else PaymentOutcome.VOIDED
        if result.outcome is done:
            return OperationResult(
                outcome=OperationOutcome.SUCCEEDED,
                gateway_status=result.gateway_status,
                gateway_operation_id=result.gateway_reference_id,
                raw=result.raw,
            )
        if result.outcome is PaymentOutcome.AUTHORIZED:  # still held: the confirm was refused
            return OperationResult(
                outcome=OperationOutcome.DECLINED,
                gateway_status="40",
                decline=transformers.decline_for(40),
                raw=result.raw,
            )
        raise GatewayOutcomeUnknown(f"confirm answered before; order state {result.gateway_status}")

    # --- notifications ---------------------------------------------------------------------

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        webhooks.verify(self.config, webhook)

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(webhook)

    def acknowledge(self, events: list[GatewayEvent]) -> WebhookAck:
        return WebhookAck(status_code=204)  # MoMo expects 204 No Content within 15 s

    def reject(self, reason: str) -> WebhookAck:
        return WebhookAck(
            status_code=400, body=b'{"message":"invalid IPN"}', media_type="application/json"
        )

    # --- HTTP ------------------------------------------------------------------------------

    async def _query(self, order_id: str) -> dict[str, Any]:
        # A fresh requestId each time: MoMo replays the answer for a requestId it has seen.
        request_id = f"payrelay-q-{uuid.uuid4().hex}"
        body = transformers.query_body(self.config, order_id, request_id)
        response = await self._post("query", body)
        answer = self._read(response)
        if answer is None:
            raise GatewayOutcomeUnknown(f"query: MoMo answered HTTP {response.status_code}")
        return answer

    async def _post(self, operation: str, body: Mapping[str, Any]) -> httpx.Response:
        url = f"{self.base_url}/v2/gateway/api/{operation}"
        return await self.send("POST", url, content=transformers.dumps(body), headers=JSON)

    @staticmethod
    def _read(response: httpx.Response) -> dict[str, Any] | None:
        """MoMo's JSON answer; None for a 4xx that is not MoMo's (no resultCode)."""
        try:
            answer = transformers.loads(response.content)
        except MalformedResponse as exc:
            if response.is_client_error:
                return None
            raise GatewayOutcomeUnknown(str(exc)) from exc
        if "resultCode" not in answer:
            if response.is_client_error:
                return None
            raise GatewayOutcomeUnknown("MoMo answered without a resultCode")
        return answer


def _refused(code: str, message: str) -> PaymentResult:
    """A create refused before or by MoMo: nothing was or will be charged."""
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=code.upper()[:50],
        decline=Decline(code=code, message=message),
    )


def _refused_operation(status_code: int) -> OperationResult:
    return transformers.declined_operation(
        f"http_{status_code}", f"MoMo refused the request (HTTP {status_code})", {}
    )


def _refund_outcome(code: int, trans_id: str | None, raw: Mapping[str, Any]) -> OperationResult:
    if code == 0:
        return OperationResult(
            outcome=OperationOutcome.SUCCEEDED,
            gateway_status="0",
            gateway_operation_id=trans_id,
            raw=transformers.plain(raw),
        )
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=str(code),
        decline=transformers.decline_for(code),
        raw=transformers.plain(raw),
    )
