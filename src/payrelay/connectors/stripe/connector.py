"""Stripe's HTTP client: hosted Checkout Sessions, then PaymentIntents and Refunds, through the
official `stripe` package (its `*_async` methods) pointed at the account's `base_url`."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cached_property, partial
from typing import Any, ClassVar, TypeVar

import stripe

from payrelay.connectors.base import (
    Capabilities,
    Connector,
    CreatePayment,
    GatewayEvent,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationRequest,
    OperationResult,
    PaymentResult,
    StatusQuery,
    WebhookAck,
)
from payrelay.connectors.stripe import currencies, transformers, webhooks
from payrelay.connectors.stripe.transformers import MalformedResponse, StripeConfig
from payrelay.connectors.stripe.transport import SharedHttpxClient

T = TypeVar("T")
PAGE = 100
SESSION_PAGES = 3  # how far back a lost create is looked for (newest sessions first)

CAPABILITIES = Capabilities(
    manual_capture=True,
    refund=True,
    partial_capture=True,
    partial_refund=True,
    multiple_refunds=True,
    void=True,
    status_query=True,
    # The PaymentIntent names our capture and void in its metadata, each refund carries our key.
    reports_operations=True,
    needs_completion=False,
    cancel_unpaid=True,  # an open Checkout Session can be expired
    currencies=None,  # Stripe refuses what it does not take (`invalid_currency`)
    min_amount={"USD": Decimal("0.50")},  # "0.50 USD equivalent": only USD is confirmed
    max_amount=currencies.MAX_AMOUNTS,
    default_payment_method="card",
    authorization_validity=timedelta(days=7),  # Stripe cancels uncaptured intents after 7 days
    idempotency_window=timedelta(hours=24),  # Stripe keeps keys at least 24 h
)


class StripeRefused(Exception):
    """Stripe answered with an error object: nothing moved."""

    def __init__(self, error: Mapping[str, Any], status: int) -> None:
        super().__init__(str(error.get("message") or error.get("code") or status))
        self.error = error
        self.status = status

    @property
    def code(self) -> str | None:
        code = self.error.get("code")
        return code if isinstance(code, str) else None


class StripeConnector(Connector):
    code = "stripe"
    display_name = "Stripe"
    capabilities: ClassVar[Capabilities] = CAPABILITIES

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return StripeConfig.of(config).as_dict()

    @property
    def base_url(self) -> str:
        return (self.account.base_url or transformers.API_BASE).rstrip("/")

    @property
    def config(self) -> StripeConfig:
        return StripeConfig.of(self.account.config)

    @cached_property
    def api(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.config.secret_key,
            base_addresses={"api": self.base_url},
            http_client=SharedHttpxClient(self.http),
            max_network_retries=0,  # the core retries, with the same Idempotency-Key
        )

    # --- payments --------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        try:
            params: Any = transformers.checkout_params(request, self.return_url(request.payment_id))
        except currencies.AmountNotSendable as exc:
            return transformers.declined_payment(exc.code, str(exc))
        sessions = self.api.v1.checkout.sessions
        try:
            session = await _call(
                partial(sessions.create_async, params, _key(request.idempotency_key))
            )
        except StripeRefused as refused:
            return transformers.refused_payment(refused.error, refused.status)
        return _read(transformers.session_created, session)

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        client = self.api
        session_id = query.gateway_transaction_id
        if session_id is None:  # the create's answer was lost: look for the session we made
            session_id = await self._find_session(client, query.payment_id)
            if session_id is None:
                return transformers.not_found(None)
        expand: Any = {"expand": ["payment_intent"]}
        try:
            session = await _call(
                partial(client.v1.checkout.sessions.retrieve_async, session_id, expand)
            )
        except StripeRefused as refused:
            if refused.code == "resource_missing":
                return transformers.not_found(session_id)
            raise GatewayOutcomeUnknown(f"Stripe refused the status query: {refused}") from None
        intent = session.get("payment_intent")
        if intent is not None and not isinstance(intent, Mapping):
            raise GatewayOutcomeUnknown("Stripe did not expand the session's payment_intent")
        refunds = [] if intent is None else await self._refunds(client, intent.get("id"))
        return _read(transformers.status_result, session, intent, refunds)

    async def cancel_unpaid(self, query: StatusQuery) -> PaymentResult:
        """Expire the Checkout Session so nobody can pay it any more, then read the payment."""
        if query.gateway_transaction_id is not None:
            sessions = self.api.v1.checkout.sessions
            # No operation of ours: the key comes from the payment, the same on every attempt.
            key = _key(f"payrelay-expire-{query.payment_id}")
            # Refused when it is not open any more (paid, or expired already): the query tells.
            with contextlib.suppress(StripeRefused):
                await _call(partial(sessions.expire_async, query.gateway_transaction_id, None, key))
        return await self.query_status(query)

    # --- operations ------------------------------------------------------------------------

    async def capture(self, request: OperationRequest) -> OperationResult:
        try:
            params: Any = transformers.capture_params(
                request.idempotency_key, request.amount, request.currency
            )
        except currencies.AmountNotSendable as exc:
            return transformers.declined_operation(exc.code, str(exc))
        found = await self._intent_of(request)
        if isinstance(found, OperationResult):
            return found
        intents = self.api.v1.payment_intents
        try:
            intent = await _call(
                partial(intents.capture_async, found[0], params, _key(request.idempotency_key))
            )
        except StripeRefused as refused:
            return transformers.refused_operation(refused.error, refused.status)
        return _read(transformers.capture_result, intent)

    async def void(self, request: OperationRequest) -> OperationResult:
        found = await self._intent_of(request)
        if isinstance(found, OperationResult):
            return found
        intent_id = found[0]
        intents = self.api.v1.payment_intents
        # Cancel takes no metadata: the PaymentIntent is marked with our key first, so that a
        # status query can tell whether this void happened.
        mark: Any = {"metadata": {transformers.VOID_KEY: request.idempotency_key}}
        try:
            await _call(
                partial(
                    intents.update_async, intent_id, mark, _key(f"{request.idempotency_key}-mark")
                )
            )
        except StripeRefused as refused:
            if _cancelled(refused):  # nothing left to void (Stripe's own expiry came first)
                return _read(transformers.cancel_result, refused.error["payment_intent"])
            return transformers.refused_operation(refused.error, refused.status)
        except GatewayOutcomeUnknown as exc:  # the cancel itself was never sent
            raise GatewayNotSent(f"void not sent, marking failed: {exc}") from exc
        try:
            intent = await _call(
                partial(intents.cancel_async, intent_id, None, _key(request.idempotency_key))
            )
        except StripeRefused as refused:
            if _cancelled(refused):  # already (Stripe's own expiry of the authorization)
                return _read(transformers.cancel_result, refused.error["payment_intent"])
            return transformers.refused_operation(refused.error, refused.status)
        return _read(transformers.cancel_result, intent)

    async def refund(self, request: OperationRequest) -> OperationResult:
        try:
            if request.amount is not None:
                currencies.to_minor(request.amount, request.currency)
        except currencies.AmountNotSendable as exc:
            return transformers.declined_operation(exc.code, str(exc))
        found = await self._intent_of(request)
        if isinstance(found, OperationResult):
            return found
        intent_id, session = found
        payment_id = transformers.payment_id_of(session)
        params: Any = transformers.refund_params(
            request.idempotency_key,
            intent_id,
            request.amount,
            request.currency,
            request.reason,
            None if payment_id is None else str(payment_id),
        )
        refunds = self.api.v1.refunds
        try:
            refund = await _call(
                partial(refunds.create_async, params, _key(request.idempotency_key))
            )
        except StripeRefused as refused:
            return transformers.refused_operation(refused.error, refused.status)
        return _read(transformers.refund_result, refund)

    async def _intent_of(
        self, request: OperationRequest
    ) -> tuple[str, Mapping[str, Any]] | OperationResult:
        """The PaymentIntent behind the payment's Checkout Session, read first (if the read
        fails, nothing was sent), or the refusal to answer with."""
        session_id = request.gateway_transaction_id
        if not session_id:
            return transformers.declined_operation("not_found", "no Stripe Checkout Session")
        sessions = self.api.v1.checkout.sessions
        try:
            session = await _call(partial(sessions.retrieve_async, session_id))
        except StripeRefused as refused:
            return transformers.refused_operation(refused.error, refused.status)
        except GatewayOutcomeUnknown as exc:  # a read changes nothing
            raise GatewayNotSent(f"not sent, reading the session failed: {exc}") from exc
        intent = session.get("payment_intent")
        if isinstance(intent, Mapping):
            intent = intent.get("id")
        if not isinstance(intent, str) or not intent:
            return transformers.declined_operation(
                "payment_intent_missing", "the customer has not paid this Checkout Session"
            )
        return intent, session

    # --- reads -----------------------------------------------------------------------------

    async def _refunds(self, client: stripe.StripeClient, intent_id: Any) -> list[dict[str, Any]]:
        if not isinstance(intent_id, str):
            raise GatewayOutcomeUnknown("Stripe PaymentIntent without an id")
        params: dict[str, Any] = {"payment_intent": intent_id, "limit": PAGE}
        return await _list(partial(client.v1.refunds.list_async), params, pages=None)

    async def _find_session(self, client: stripe.StripeClient, payment_id: uuid.UUID) -> str | None:
        """The session our lost create made, among the newest ones (Stripe cannot search
        Checkout Sessions by metadata)."""
        sessions = await _list(
            partial(client.v1.checkout.sessions.list_async), {"limit": PAGE}, SESSION_PAGES
        )
        for session in sessions:
            if transformers.payment_id_of(session) == payment_id:
                return str(session["id"])
        return None

    # --- notifications ---------------------------------------------------------------------

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        webhooks.verify(self.config, webhook)

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(webhook)

    def acknowledge(self, events: list[GatewayEvent]) -> WebhookAck:
        return WebhookAck(status_code=200, body=b'{"received":true}', media_type="application/json")

    def reject(self, reason: str) -> WebhookAck:
        return WebhookAck(
            status_code=400, body=b'{"error":"invalid signature"}', media_type="application/json"
        )


def _cancelled(refused: StripeRefused) -> bool:
    """Stripe refused because the PaymentIntent is cancelled already: what a void wants."""
    current = refused.error.get("payment_intent")
    return isinstance(current, Mapping) and current.get("status") == "canceled"


def _key(idempotency_key: str) -> Any:
    """Request options: every POST carries an Idempotency-Key derived from our operation."""
    return {"idempotency_key": idempotency_key}


async def _call(request: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """One Stripe call through the package, its answer as a plain dict, its failures sorted:
    a refusal (nothing moved), not sent, or unknown."""
    try:
        answer = await request()
    except (stripe.CardError, stripe.InvalidRequestError, stripe.AuthenticationError) as exc:
        raise StripeRefused(_error(exc), exc.http_status or 400) from exc
    except stripe.PermissionError as exc:
        raise StripeRefused(_error(exc), exc.http_status or 403) from exc
    except stripe.RateLimitError as exc:  # Stripe did not run it
        raise GatewayNotSent(f"Stripe rate limit: {exc.user_message}") from exc
    except stripe.IdempotencyError as exc:  # this key was used with other parameters
        raise GatewayOutcomeUnknown(f"Stripe idempotency error: {exc.user_message}") from exc
    except stripe.StripeError as exc:  # 5xx, 409 (key in flight), unreadable answers
        raise GatewayOutcomeUnknown(f"Stripe {exc.http_status}: {exc.user_message}") from exc
    if not isinstance(answer, stripe.StripeObject):
        raise GatewayOutcomeUnknown(f"Stripe answered {type(answer).__name__}")
    plain: dict[str, Any] = answer.to_dict()
    return plain


async def _list(
    page_of: Callable[[dict[str, Any]], Awaitable[Any]],
    params: dict[str, Any],
    pages: int | None,
) -> list[dict[str, Any]]:
    """A list endpoint's items, page after page (`starting_after`); reads only, so a refusal
    means the answer is unknown, not that anything was declined."""
    found: list[dict[str, Any]] = []
    while pages is None or pages > 0:
        try:
            page = await _call(partial(page_of, params))
        except StripeRefused as refused:
            raise GatewayOutcomeUnknown(f"Stripe refused a list: {refused}") from None
        data = page.get("data")
        if not isinstance(data, list):
            raise GatewayOutcomeUnknown("Stripe list without data")
        found.extend(data)
        if not page.get("has_more") or not data:
            break
        params = {**params, "starting_after": data[-1]["id"]}
        pages = None if pages is None else pages - 1
    return found


def _error(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    return {"message": exc.user_message or str(exc), "code": exc.code}


def _read(mapping: Callable[..., T], *args: Any) -> T:
    """A mapped answer; an answer we cannot read means the outcome is unknown."""
    try:
        return mapping(*args)
    except (MalformedResponse, KeyError, TypeError, AttributeError) as exc:
        raise GatewayOutcomeUnknown(f"unreadable Stripe answer: {exc}") from exc
