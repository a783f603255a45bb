"""AllSecure's HTTP client (IXOPAY Transaction API v3): debit, preauthorize, capture, void,
refund and the status API, every request signed and sent with Basic auth."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from payrelay.connectors.allsecure import signatures, transformers, webhooks
from payrelay.connectors.allsecure.codes import (
    DUPLICATE_TRANSACTION_ID,
    TRANSACTION_NOT_FOUND,
)
from payrelay.connectors.allsecure.transformers import (
    CURRENCIES,
    GATEWAY_STATUS,
    MAX_AMOUNT,
    AllSecureConfig,
    MalformedResponse,
    Status,
)
from payrelay.connectors.base import (
    Capabilities,
    Connector,
    CreatePayment,
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


class AllSecureConnector(Connector):
    code = "allsecure"
    display_name = "AllSecure"
    capabilities: ClassVar[Capabilities] = Capabilities(
        manual_capture=True,
        partial_capture=True,  # one capture of up to the authorized amount (acquirer-dependent)
        partial_refund=True,
        multiple_refunds=True,
        void=True,
        status_query=True,
        reports_operations=True,  # each operation is looked up by its merchantTransactionId
        cancel_unpaid=False,  # nothing cancels a transaction waiting on the payment page
        currencies=frozenset(CURRENCIES),
        max_amount=dict.fromkeys(CURRENCIES, MAX_AMOUNT),
        default_payment_method="card",
        authorization_validity=timedelta(days=7),
    )

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return AllSecureConfig.of(config).as_dict()

    @property
    def base_url(self) -> str:
        return (self.account.base_url or transformers.SANDBOX_HOST).rstrip("/")

    @property
    def config(self) -> AllSecureConfig:
        return AllSecureConfig.of(self.account.config)

    # --- payments --------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        if request.currency not in CURRENCIES:
            return transformers.refused_payment(
                "unsupported_currency", f"AllSecure takes {' or '.join(CURRENCIES)} only"
            )
        try:
            body = transformers.payment_body(
                request, self.return_url(request.payment_id), self.account.webhook_url
            )
        except ValueError as exc:
            return transformers.refused_payment("invalid_request", str(exc))
        answer = await self._transaction(transformers.endpoint(request.capture_method), body)
        code = transformers.general_error(answer)
        if code == DUPLICATE_TRANSACTION_ID:  # sent before, answer lost: read what happened
            return await self._payment_by_key(request.idempotency_key)
        if code is not None:
            return PaymentResult(
                outcome=PaymentOutcome.DECLINED,
                gateway_status="ERROR",
                decline=transformers.refusal(code, answer),
                raw=transformers.plain(answer),
            )
        try:
            return transformers.create_result(answer, request.capture_method)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"create: {exc}") from exc

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        """The payment's DEBIT or PREAUTHORIZE (by uuid, or by our create's key while the uuid
        is unknown) and each operation the core asks about, by its merchantTransactionId."""
        initial: Status | None = None
        if query.gateway_transaction_id:
            initial = await self._status(f"getByUuid/{query.gateway_transaction_id}")
            if initial is None:
                raise GatewayOutcomeUnknown("AllSecure does not know the payment's uuid")
        operations: dict[str, OperationOutcome] = {}
        for key in query.operation_keys:
            found = await self._lookup(key)
            if found is None and initial is None:
                return transformers.not_found()  # our create never arrived
            if found is None:
                operations[key] = OperationOutcome.DECLINED  # never arrived: never happened
            elif found.initial:  # our create: the payment itself
                initial = initial or found
            else:
                outcome = transformers.operation_status(found)
                if outcome is None:
                    raise GatewayOutcomeUnknown(f"{found.transaction_type} {key} is in flight")
                operations[key] = outcome
        if initial is None:
            raise GatewayOutcomeUnknown("no uuid and no merchantTransactionId to ask about")
        try:
            return transformers.payment_status(initial, operations)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"status: {exc}") from exc

    # --- operations ------------------------------------------------------------------------

    async def capture(self, request: OperationRequest) -> OperationResult:
        if request.amount is None:
            return _amount_required()
        return await self._operate("capture", transformers.capture_body(request, request.amount))

    async def void(self, request: OperationRequest) -> OperationResult:
        return await self._operate("void", transformers.void_body(request))

    async def refund(self, request: OperationRequest) -> OperationResult:
        if request.amount is None:
            return _amount_required()
        reference = request.gateway_transaction_id
        if request.capture_key is not None:  # captured separately: refund the CAPTURE
            try:
                capture = await self._lookup(request.capture_key)
            except GatewayOutcomeUnknown as exc:
                raise GatewayNotSent(f"refund not sent, the capture lookup failed: {exc}") from exc
            if capture is None or capture.status != "SUCCESS":
                return transformers.refused_operation(
                    "not_refundable", "AllSecure has no successful capture to refund"
                )
            reference = capture.uuid
        body = transformers.refund_body(request, request.amount, reference, self._callback_url)
        return await self._operate("refund", body)

    async def _operate(self, action: str, body: dict[str, Any]) -> OperationResult:
        answer = await self._transaction(action, body)
        code = transformers.general_error(answer)
        if code == DUPLICATE_TRANSACTION_ID:
            return await self._operation_by_id(str(body["merchantTransactionId"]))
        if code is not None:
            return OperationResult(
                outcome=OperationOutcome.DECLINED,
                gateway_status="ERROR",
                decline=transformers.refusal(code, answer),
                raw=transformers.plain(answer),
            )
        try:
            return transformers.operation_result(answer)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"{action}: {exc}") from exc

    async def _payment_by_key(self, key: str) -> PaymentResult:
        found = await self._lookup(key)
        if found is None or not found.initial:
            raise GatewayOutcomeUnknown("AllSecure says duplicate but has no such payment")
        try:
            return transformers.payment_status(found)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"status: {exc}") from exc

    async def _operation_by_id(self, merchant_transaction_id: str) -> OperationResult:
        """AllSecure already has this operation (a resend after a lost answer): its state is
        the answer, so nothing is done twice."""
        found = await self._status(f"getByMerchantTransactionId/{merchant_transaction_id}")
        if found is None:
            raise GatewayOutcomeUnknown("AllSecure says duplicate but has no such operation")
        outcome = transformers.operation_status(found) or OperationOutcome.PENDING
        declined = outcome is OperationOutcome.DECLINED
        return OperationResult(
            outcome=outcome,
            gateway_status=GATEWAY_STATUS[found.status],
            gateway_operation_id=found.uuid,
            decline=transformers.decline_of(found.body) if declined else None,
            raw=transformers.plain(found.body),
        )

    # --- notifications ---------------------------------------------------------------------

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        webhooks.verify(self.config.shared_secret, self._callback_url, webhook)

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(webhook)

    def acknowledge(self, events: list[GatewayEvent]) -> WebhookAck:
        return WebhookAck(status_code=200, body=b"OK", media_type="text/plain")

    def reject(self, reason: str) -> WebhookAck:
        return WebhookAck(status_code=401, body=b"ERROR", media_type="text/plain")

    # --- HTTP ------------------------------------------------------------------------------

    @property
    def _callback_url(self) -> str:
        return self.account.webhook_url

    async def _transaction(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/api/v3/transaction/{self.config.api_key}/{action}"
        return await self._request("POST", path, transformers.dumps(body))

    async def _lookup(self, key: str) -> Status | None:
        merchant_transaction_id = transformers.transaction_id(key)
        return await self._status(f"getByMerchantTransactionId/{merchant_transaction_id}")

    async def _status(self, path: str) -> Status | None:
        """One transaction from the status API; None when AllSecure has none (8001)."""
        answer = await self._request("GET", f"/api/v3/status/{self.config.api_key}/{path}", b"")
        code = transformers.general_error(answer)
        if code == TRANSACTION_NOT_FOUND:
            return None
        if code is not None:
            raise GatewayOutcomeUnknown(f"AllSecure refused the status query: {code}")
        try:
            return transformers.status_of(answer)
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"status: {exc}") from exc

    async def _request(self, method: str, path: str, content: bytes) -> dict[str, Any]:
        config = self.config
        url = self.base_url + path
        date = signatures.http_date(datetime.now(UTC))
        content_type = signatures.CONTENT_TYPE
        signature = signatures.sign(
            config.shared_secret, method, content, content_type, date, signatures.request_uri(url)
        )
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "Date": date,
            "X-Date": date,
            "X-Signature": signature,
            "Authorization": signatures.basic_auth(config.username, config.password),
        }
        response = await self.send(method, url, content=content, headers=headers)
        if response.status_code == 429:  # rate limited: nothing was done
            raise GatewayNotSent("AllSecure answered HTTP 429 (rate limit)")
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """AllSecure's JSON answer. A 4xx without one (a proxy, a wrong base URL) is a refusal."""
    refused = {
        "success": False,
        "errorCode": 1000,
        "errorMessage": f"HTTP {response.status_code} without an AllSecure answer",
    }
    try:
        answer = transformers.loads(response.content)
    except MalformedResponse as exc:
        if response.is_client_error:
            return refused
        raise GatewayOutcomeUnknown(str(exc)) from exc
    if response.is_client_error and transformers.general_error(answer) is None:
        return refused
    return answer


def _amount_required() -> OperationResult:
    return transformers.refused_operation("amount_required", "AllSecure needs an amount")
