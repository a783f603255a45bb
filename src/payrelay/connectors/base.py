"""The connector contract: canonical requests in, canonical results out.

A connector owns one gateway's wire format, its HTTP calls and its webhook verification. It never
touches the database or the web framework. Every call ends in one of three ways:

- a result (`PaymentResult` / `OperationResult`): the gateway answered; a decline is a result;
- `GatewayNotSent`: nothing reached the gateway, so the same request may be sent again;
- `GatewayOutcomeUnknown`: the request was sent but the answer was lost (timeout, reset, 5xx);
  the core records the operation as unknown and resolves it with a status query.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from payrelay.enums import CaptureMethod


class GatewayNotSent(Exception):
    """Nothing reached the gateway (connection refused, DNS, pool exhausted): safe to resend."""


class GatewayOutcomeUnknown(Exception):
    """The request may have reached the gateway and its outcome is unknown."""


class ConfigInvalid(ValueError):
    """The account configuration is missing a key or has a bad value."""


class WebhookRejected(Exception):
    """A webhook failed verification (bad or missing signature, stale timestamp, bad body)."""


class PaymentOutcome(StrEnum):
    PENDING = "pending"
    # The customer approved at the gateway, which now waits for us to complete the payment
    # (PayPal: capture or authorize the approved order). The core calls `complete_payment`.
    APPROVED = "approved"
    # Money arrived for the payment (a bank transfer): `amount` is this receipt only. The core
    # adds receipts up; the payment is captured once they reach its amount.
    FUNDS_RECEIVED = "funds_received"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    VOIDED = "voided"


class OperationOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Capabilities:
    manual_capture: bool = True
    refund: bool = True  # refunds through the gateway (without it: only external refunds)
    partial_capture: bool = True
    partial_refund: bool = True
    multiple_refunds: bool = True
    void: bool = True
    status_query: bool = True
    reports_operations: bool = False  # status queries list our operations by idempotency key
    needs_completion: bool = False  # an approved payment is completed by `complete_payment`
    cancel_unpaid: bool = True  # an unpaid payment can be cancelled (used when it expires)
    currencies: frozenset[str] | None = None  # None: any ISO 4217 currency
    min_amount: Mapping[str, Decimal] = field(default_factory=dict)
    max_amount: Mapping[str, Decimal] = field(default_factory=dict)
    default_payment_method: str = "card"
    authorization_validity: timedelta = timedelta(days=7)
    idempotency_window: timedelta = timedelta(hours=24)

    def supports_currency(self, currency: str) -> bool:
        return self.currencies is None or currency in self.currencies


@dataclass(frozen=True, slots=True)
class Account:
    """A merchant's account at the gateway, as the connector needs it."""

    id: int
    config: Mapping[str, Any]
    base_url: str | None
    public_url: str
    webhook_url: str


@dataclass(frozen=True, slots=True)
class Decline:
    code: str
    message: str
    gateway_code: str | None = None
    gateway_message: str | None = None  # the gateway's own text, as it sent it


@dataclass(frozen=True, slots=True)
class NextAction:
    type: str
    data: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.data}


@dataclass(frozen=True, slots=True)
class CreatePayment:
    payment_id: uuid.UUID
    operation_id: uuid.UUID
    idempotency_key: str
    amount: Decimal
    currency: str
    capture_method: CaptureMethod
    order_reference: str
    order_id: str
    description: str | None
    customer_email: str | None
    return_url: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CompletePayment:
    """Finish a payment the customer approved (authorize or capture it at the gateway)."""

    payment_id: uuid.UUID
    operation_id: uuid.UUID
    idempotency_key: str
    gateway_transaction_id: str
    amount: Decimal
    currency: str
    capture_method: CaptureMethod


@dataclass(frozen=True, slots=True)
class PaymentResult:
    outcome: PaymentOutcome
    gateway_status: str
    gateway_transaction_id: str | None = None
    gateway_reference_id: str | None = None
    next_action: NextAction | None = None
    amount: Decimal | None = None
    captured_amount: Decimal | None = None
    refunded_amount: Decimal | None = None
    decline: Decline | None = None
    # What became of our capture/void/refund requests, by the idempotency key we sent.
    operations: Mapping[str, OperationOutcome] = field(default_factory=dict)
    found: bool = True  # False: the gateway has no such payment (our create never arrived)
    # Notifications the gateway should have sent and we never received, found by the query
    # (e.g. bank transfers listed by a transactions API): they go through the inbox, deduplicated
    # with the real webhooks on their event id.
    missed_events: Sequence[GatewayEvent] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """A capture, void or refund of an existing gateway transaction."""

    operation_id: uuid.UUID
    idempotency_key: str
    gateway_transaction_id: str
    amount: Decimal | None
    currency: str
    reason: str | None = None
    # A refund after a separate capture: the key that capture was sent with (gateways that
    # address refunds to the capture, not to the authorization, look it up by it).
    capture_key: str | None = None


@dataclass(frozen=True, slots=True)
class OperationResult:
    outcome: OperationOutcome
    gateway_status: str
    gateway_operation_id: str | None = None
    decline: Decline | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusQuery:
    payment_id: uuid.UUID
    order_reference: str
    gateway_transaction_id: str | None
    # Keys of our operations the core asks about (gateways whose status queries look up one
    # operation at a time need them; `PaymentResult.operations` answers by these keys).
    operation_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncomingWebhook:
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One fact a gateway reported, in canonical form."""

    event_id: str
    event_type: str
    outcome: PaymentOutcome
    gateway_status: str
    occurred_at: datetime
    payment_id: uuid.UUID | None = None
    gateway_transaction_id: str | None = None
    amount: Decimal | None = None
    decline: Decline | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookAck:
    """What the gateway expects back, byte for byte."""

    status_code: int
    body: bytes = b""
    media_type: str | None = None


class Connector(ABC):
    code: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, account: Account, http: httpx.AsyncClient) -> None:
        self.account = account
        self.http = http

    @classmethod
    def capabilities_for(cls, config: Mapping[str, Any]) -> Capabilities:
        """The capabilities of one account (limits can depend on its configuration)."""
        return cls.capabilities

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a new account configuration; fill in what can be generated."""
        return dict(config)

    @abstractmethod
    async def create_payment(self, request: CreatePayment) -> PaymentResult: ...

    @abstractmethod
    async def capture(self, request: OperationRequest) -> OperationResult: ...

    @abstractmethod
    async def void(self, request: OperationRequest) -> OperationResult: ...

    @abstractmethod
    async def refund(self, request: OperationRequest) -> OperationResult: ...

    @abstractmethod
    async def query_status(self, query: StatusQuery) -> PaymentResult: ...

    async def complete_payment(self, request: CompletePayment) -> PaymentResult:
        """Only for gateways with `needs_completion`."""
        raise NotImplementedError(f"{self.code} payments need no completion")

    def return_url(self, payment_id: uuid.UUID) -> str:
        """Where the gateway sends the customer back: payrelay completes the payment if the
        gateway needs it, then forwards the customer to the merchant's `return_url`."""
        return f"{self.account.public_url}/return/{self.code}/{self.account.id}/{payment_id}"

    async def cancel_unpaid(self, query: StatusQuery) -> PaymentResult:
        """Cancel a payment the customer has not paid; answer with its state afterwards (a
        payment paid meanwhile stays paid). Gateways without cancellation only report it."""
        return await self.query_status(query)

    @abstractmethod
    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        """Raise `WebhookRejected` unless the webhook is genuine (signature, timestamp)."""

    @abstractmethod
    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        """The events of a verified webhook; `WebhookRejected` if the body cannot be read.
        Called again by the worker on the stored body, so it must not depend on the time."""

    def acknowledge(self, events: list[GatewayEvent]) -> WebhookAck:
        return WebhookAck(status_code=200, body=b'{"received":true}', media_type="application/json")

    def reject(self, reason: str) -> WebhookAck:
        return WebhookAck(
            status_code=401, body=b'{"error":"invalid signature"}', media_type="application/json"
        )

    @property
    def base_url(self) -> str:
        return (self.account.base_url or self.account.public_url).rstrip("/")

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call, with transport failures sorted into not-sent and unknown."""
        try:
            response = await self.http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayNotSent(f"{type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise GatewayOutcomeUnknown(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise GatewayOutcomeUnknown(f"gateway answered HTTP {response.status_code}")
        return response
