"""PayPal's HTTP client: Orders v2 (create, show, capture, authorize), Payments v2 (capture,
void, refund) and the webhook verification call, all with an OAuth2 bearer token."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from payrelay.connectors.base import (
    Capabilities,
    CompletePayment,
    Connector,
    CreatePayment,
    Decline,
    GatewayEvent,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationRequest,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
    StatusQuery,
    WebhookAck,
    WebhookRejected,
)
from payrelay.connectors.paypal import auth, certs, states, webhooks
from payrelay.connectors.paypal.transformers import (
    CURRENCIES,
    SANDBOX_HOST,
    MalformedResponse,
    PaypalConfig,
    PaypalError,
    capture_body,
    create_body,
    declined_operation,
    loads,
    refund_body,
)
from payrelay.enums import CaptureMethod

CAPABILITIES = Capabilities(
    manual_capture=True,
    refund=True,
    partial_capture=True,
    partial_refund=True,
    multiple_refunds=True,
    void=True,
    status_query=True,
    # The order lists our captures and refunds (by invoice_id) but not our voids.
    reports_operations=False,
    needs_completion=True,
    cancel_unpaid=False,  # an unapproved order cannot be cancelled; it lapses after 3 hours
    currencies=CURRENCIES,
    default_payment_method="paypal",
    # The honor period: PayPal keeps an authorization 29 days but guarantees the funds for 3;
    # payrelay does not reauthorize, so an uncaptured one is voided after the 3 days.
    authorization_validity=timedelta(days=3),
    idempotency_window=timedelta(hours=6),  # PayPal-Request-Id on Orders (45 days on Payments)
)
UNVERIFIABLE = "unverifiable"
REFUNDABLE = ("COMPLETED", "PARTIALLY_REFUNDED")


class AuthenticationFailed(GatewayNotSent):
    """PayPal refused our client credentials (or a fresh token): nothing else was sent."""


class NotCompletedYet(GatewayNotSent):
    """PayPal did nothing with the completion and may accept it later (the order is not
    approved yet): safe to send again with the same key."""


class PaypalConnector(Connector):
    code = "paypal"
    display_name = "PayPal"
    capabilities: ClassVar[Capabilities] = CAPABILITIES

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return PaypalConfig.of(config).as_dict()

    @property
    def base_url(self) -> str:
        return (self.account.base_url or SANDBOX_HOST).rstrip("/")

    @property
    def config(self) -> PaypalConfig:
        return PaypalConfig.of(self.account.config)

    # --- payments --------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        if request.currency not in CURRENCIES:
            return _refused("unsupported_currency", f"PayPal does not take {request.currency}")
        try:
            body = create_body(request, self.return_url(request.payment_id))
        except ValueError as exc:
            return _refused("invalid_amount", str(exc))
        try:
            response = await self._api(
                "POST", "/v2/checkout/orders", body=body, request_id=request.idempotency_key
            )
        except AuthenticationFailed as exc:
            return _refused("gateway_authentication_failed", str(exc))
        if response.status_code in (200, 201):  # 200: PayPal replayed our PayPal-Request-Id
            result = self._order_result(response, "create")
            if result.next_action is None:
                raise GatewayOutcomeUnknown(f"create: order {result.gateway_status} has no link")
            return result
        error = self._error(response, "create")
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status=error.code[:50],
            decline=error.decline(),
            raw=dict(error.raw or {}),
        )

    async def complete_payment(self, request: CompletePayment) -> PaymentResult:
        """Capture (intent CAPTURE) or authorize (intent AUTHORIZE) the approved order."""
        order_id = request.gateway_transaction_id
        if not order_id:
            raise NotCompletedYet("payrelay never learned the PayPal order id")
        action = "capture" if request.capture_method is CaptureMethod.AUTOMATIC else "authorize"
        response = await self._api(
            "POST",
            f"/v2/checkout/orders/{_segment(order_id)}/{action}",
            body={},
            request_id=request.idempotency_key,
        )
        if response.status_code in (200, 201):
            return self._order_result(response, action)
        error = self._error(response, action)
        if error.issue in ("ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED"):
            return await self._order_state(order_id)  # completed before (a lost answer)
        if error.issue in ("ORDER_NOT_APPROVED", "PAYER_ACTION_REQUIRED"):
            # Nothing was done and the buyer may still approve (or pass 3-D Secure): the core
            # keeps the completion open and sends it again on the next trigger.
            raise NotCompletedYet(f"{action}: {error.code}: {error.message}")
        if error.issue == "ORDER_EXPIRED" or error.status == 404:
            return PaymentResult(
                outcome=PaymentOutcome.EXPIRED,
                gateway_status=error.code[:50],
                gateway_transaction_id=order_id,
                raw=dict(error.raw or {}),
            )
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status=error.code[:50],
            gateway_transaction_id=order_id,
            decline=error.decline(),
            raw=dict(error.raw or {}),
        )

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        if not query.gateway_transaction_id:
            # Without the create's answer there is no order id, and PayPal has no search by our
            # reference. Nobody received an approve link either, so nothing can be paid.
            return _not_found("payrelay never learned the PayPal order id")
        return await self._order_state(query.gateway_transaction_id)

    async def _order_state(self, order_id: str) -> PaymentResult:
        response = await self._api("GET", f"/v2/checkout/orders/{_segment(order_id)}")
        if response.status_code == 404:
            return _not_found(f"PayPal has no order {order_id}")
        if response.status_code != 200:
            raise GatewayOutcomeUnknown(f"show order: PayPal answered HTTP {response.status_code}")
        return self._order_result(response, "show order")

    # --- operations ------------------------------------------------------------------------

    async def capture(self, request: OperationRequest) -> OperationResult:
        try:
            order = await self._order_before(request)
            if order is None:
                return _no_order(request)
            payments = states.payments_of(order)
            earlier = [c for c in payments.captures if c.invoice_id == request.idempotency_key]
            if earlier:  # a resumed capture PayPal already made: never capture twice
                return states.capture_result(earlier[-1].raw)
            if not payments.authorizations:
                return declined_operation("not_authorized", "the order has no authorization", order)
            auth_id = payments.authorizations[-1].id
            response = await self._api(
                "POST",
                f"/v2/payments/authorizations/{_segment(auth_id)}/capture",
                body=capture_body(request),
                request_id=request.idempotency_key,
            )
        except AuthenticationFailed as exc:
            return declined_operation("gateway_authentication_failed", str(exc), {})
        except ValueError as exc:  # an amount PayPal cannot take (decimals)
            return declined_operation("invalid_amount", str(exc), {})
        if response.status_code in (200, 201):
            return self._operation(response, "capture", states.capture_result)
        return self._error(response, "capture").declined_operation()

    async def void(self, request: OperationRequest) -> OperationResult:
        try:
            order = await self._order_before(request)
            if order is None:
                return _no_order(request)
            payments = states.payments_of(order)
            if not payments.authorizations:
                return declined_operation("not_authorized", "the order has no authorization", order)
            authorization = payments.authorizations[-1]
            if authorization.status == "VOIDED":  # a resumed void PayPal already made
                return states.voided(authorization)
            response = await self._api(
                "POST",
                f"/v2/payments/authorizations/{_segment(authorization.id)}/void",
                request_id=request.idempotency_key,
            )
        except AuthenticationFailed as exc:
            return declined_operation("gateway_authentication_failed", str(exc), {})
        if response.status_code == 204:  # return=minimal
            return states.voided(states.Item(authorization.id, "VOIDED", None, None, None, {}))
        if response.status_code == 200:
            return self._operation(response, "void", _voided)
        error = self._error(response, "void")
        if error.issue == "PREVIOUSLY_VOIDED":
            return states.voided(authorization)
        return error.declined_operation()

    async def refund(self, request: OperationRequest) -> OperationResult:
        try:
            order = await self._order_before(request)
            if order is None:
                return _no_order(request)
            payments = states.payments_of(order)
            earlier = [r for r in payments.refunds if r.invoice_id == request.idempotency_key]
            if earlier:  # a resumed refund PayPal already made
                return states.refund_result(earlier[-1].raw)
            refundable = [
                c for c in payments.captures if c.status in ("COMPLETED", "PARTIALLY_REFUNDED")
            ]
            if not refundable:
                return declined_operation("not_refundable", "the order has no capture", order)
            response = await self._api(
                "POST",
                f"/v2/payments/captures/{_segment(refundable[-1].id)}/refund",
                body=refund_body(request),
                request_id=request.idempotency_key,
            )
        except AuthenticationFailed as exc:
            return declined_operation("gateway_authentication_failed", str(exc), {})
        except ValueError as exc:
            return declined_operation("invalid_amount", str(exc), {})
        if response.status_code in (200, 201):
            return self._operation(response, "refund", states.refund_result)
        return self._error(response, "refund").declined_operation()

    async def _order_before(self, request: OperationRequest) -> dict[str, Any] | None:
        """The order, read before an operation: a failure here means nothing was sent."""
        try:
            path = f"/v2/checkout/orders/{_segment(request.gateway_transaction_id)}"
            response = await self._api("GET", path)
        except GatewayOutcomeUnknown as exc:
            raise GatewayNotSent(f"not sent, the order could not be read: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise GatewayNotSent(f"not sent, showing the order answered {response.status_code}")
        try:
            states.payments_of(order := loads(response.content))
        except MalformedResponse as exc:
            raise GatewayNotSent(f"not sent, unreadable order: {exc}") from exc
        return order

    # --- notifications ---------------------------------------------------------------------

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        config = self.config
        transmission = webhooks.transmission(webhook)
        if not config.webhook_id:
            raise WebhookRejected("no webhook_id configured for this PayPal account")
        webhooks.event_of(webhook.body)
        if config.webhook_verification == "certificate":
            await certs.verify(self.http, transmission, config.webhook_id, webhook)
            return
        body = webhooks.verification_request(transmission, config.webhook_id, webhook.body)
        try:
            response = await self._api(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                content=body,
                request_id=f"payrelay-verify-{uuid.uuid4()}",
            )
        except (GatewayNotSent, GatewayOutcomeUnknown) as exc:
            raise WebhookRejected(f"{UNVERIFIABLE}: {exc}") from exc
        if response.status_code != 200:
            raise WebhookRejected(f"{UNVERIFIABLE}: PayPal answered HTTP {response.status_code}")
        try:
            status = loads(response.content).get("verification_status")
        except MalformedResponse as exc:
            raise WebhookRejected(f"{UNVERIFIABLE}: {exc}") from exc
        if status != "SUCCESS":
            raise WebhookRejected(f"PayPal says the signature does not match ({status})")

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(webhook.body)

    def reject(self, reason: str) -> WebhookAck:
        # Any non-2xx makes PayPal send it again: a verification that could not run should.
        status = 503 if reason.startswith(UNVERIFIABLE) else 401
        return WebhookAck(
            status_code=status, body=b'{"error":"not verified"}', media_type="application/json"
        )

    # --- HTTP ------------------------------------------------------------------------------

    @property
    def _key(self) -> auth.Key:
        return (self.base_url, self.config.client_id)

    async def _api(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """One call with a bearer token; on 401 the token is renewed and the call made again
        (PayPal did nothing with a request it could not authenticate)."""
        headers = {"Prefer": "return=representation"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
            headers["PayPal-Request-Id"] = request_id or f"payrelay-{uuid.uuid4()}"
            if content is None:
                content = webhooks.dumps(body or {})
        url = f"{self.base_url}{path}"
        for attempt in range(2):
            token = await auth.token(self._key, self._fetch_token)
            headers["Authorization"] = f"Bearer {token}"
            response = await self.send(method, url, content=content, headers=headers)
            if response.status_code != 401:
                return response
            auth.invalidate(self._key, token)
            if attempt == 1:
                error = PaypalError.of(response.status_code, response.content)
                raise AuthenticationFailed(f"PayPal refused a fresh token: {error.message}")
        raise AssertionError("unreachable")

    async def _fetch_token(self) -> tuple[str, float]:
        config = self.config
        basic = base64.b64encode(f"{config.client_id}:{config.client_secret}".encode()).decode()
        try:
            response = await self.send(
                "POST",
                f"{self.base_url}/v1/oauth2/token",
                content=b"grant_type=client_credentials",
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
            )
        except GatewayOutcomeUnknown as exc:  # the token, not the operation, was lost
            raise GatewayNotSent(f"token: {exc}") from exc
        if response.status_code != 200:
            error = PaypalError.of(response.status_code, response.content)
            if response.status_code in (400, 401, 403):
                raise AuthenticationFailed(f"PayPal refused the client credentials: {error.code}")
            raise GatewayNotSent(f"token: PayPal answered HTTP {response.status_code}")
        try:
            answer = loads(response.content)
        except MalformedResponse as exc:
            raise GatewayNotSent(f"token: {exc}") from exc
        value, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(value, str) or not value:
            raise GatewayNotSent("token: PayPal answered without an access_token")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            expires_in = 0  # use it once
        return value, float(expires_in)

    def _order_result(self, response: httpx.Response, what: str) -> PaymentResult:
        try:
            return states.order_result(loads(response.content))
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"{what}: {exc}") from exc

    def _operation(self, response: httpx.Response, what: str, read: Any) -> OperationResult:
        try:
            result: OperationResult = read(loads(response.content))
        except MalformedResponse as exc:
            raise GatewayOutcomeUnknown(f"{what}: {exc}") from exc
        return result

    @staticmethod
    def _error(response: httpx.Response, what: str) -> PaypalError:
        """A 4xx answer: PayPal did not do it — unless it is still doing it (409)."""
        error = PaypalError.of(response.status_code, response.content)
        if response.status_code == 409:  # PREVIOUS_REQUEST_IN_PROGRESS
            raise GatewayOutcomeUnknown(f"{what}: {error.code}")
        if response.status_code == 429:  # RATE_LIMIT_REACHED: not executed
            raise GatewayNotSent(f"{what}: {error.code}")
        return error


def _segment(value: str) -> str:
    return quote(value, safe="")


def _voided(resource: Mapping[str, Any]) -> OperationResult:
    found = states.item(resource, states.AUTHORIZATION_STATUSES, "authorization")
    if found.status != "VOIDED":
        raise MalformedResponse(f"void answered an authorization {found.status}")
    return states.voided(found)


def _refused(code: str, message: str) -> PaymentResult:
    """A create refused here or by PayPal: nothing was or will be charged."""
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=code.upper()[:50],
        decline=Decline(code=code, message=message),
    )


def _not_found(message: str) -> PaymentResult:
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status="RESOURCE_NOT_FOUND",
        decline=Decline(code="order_not_found", message=message),
        found=False,
    )


def _no_order(request: OperationRequest) -> OperationResult:
    return declined_operation(
        "order_not_found", f"PayPal has no order {request.gateway_transaction_id}", {}
    )
