"""Pure mapping between canonical types and PayPal's REST JSON (Orders v2, Payments v2). No I/O.

Spec: shared/reference/gateways-stripe-paypal-allsecure.md, part 2.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from payrelay.connectors.base import (
    ConfigInvalid,
    CreatePayment,
    Decline,
    NextAction,
    OperationOutcome,
    OperationRequest,
    OperationResult,
)
from payrelay.enums import CaptureMethod

SANDBOX_HOST = "https://api-m.sandbox.paypal.com"
LIVE_HOST = "https://api-m.paypal.com"

# PayPal's REST currencies (spec 2.7: RSD is not one of them). HUF, JPY and TWD take whole
# amounts only (`DECIMALS_NOT_SUPPORTED`); the others two decimals.
CURRENCIES = frozenset(
    {
        "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS",
        "JPY", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
    }
)  # fmt: skip
WHOLE_AMOUNT_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
MONEY_VALUE = re.compile(r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")

WEBHOOK_ID = re.compile(r"^[a-zA-Z0-9]{1,50}$")
VERIFICATION_METHODS = ("api", "certificate")
REQUIRED_KEYS = ("client_id", "client_secret")
CONFIG_KEYS = frozenset({*REQUIRED_KEYS, "webhook_id", "webhook_verification"})
MAX_DESCRIPTION = 127  # purchase_units[].description
MAX_NOTE = 255  # note_to_payer
MAX_INVOICE_ID = 127
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class MalformedResponse(ValueError):
    """PayPal answered something we cannot read: the outcome is unknown."""


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaypalConfig:
    client_id: str
    client_secret: str
    webhook_id: str | None = None  # set once the webhook is registered at PayPal
    webhook_verification: str = "api"  # "api": PayPal's verify call; "certificate": offline

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> PaypalConfig:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigInvalid(f"unknown paypal config keys: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key in REQUIRED_KEYS:
            value = config.get(key)
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise ConfigInvalid(f"paypal {key} must be a non-empty string without spaces")
            values[key] = value
        webhook_id = config.get("webhook_id")
        if webhook_id is not None and (
            not isinstance(webhook_id, str) or not WEBHOOK_ID.match(webhook_id)
        ):
            raise ConfigInvalid("paypal webhook_id is 1 to 50 letters and digits")
        method = config.get("webhook_verification", "api")
        if method not in VERIFICATION_METHODS:
            raise ConfigInvalid("paypal webhook_verification must be api or certificate")
        return cls(webhook_id=webhook_id, webhook_verification=method, **values)

    def as_dict(self) -> dict[str, str]:
        values = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "webhook_verification": self.webhook_verification,
        }
        if self.webhook_id is not None:
            values["webhook_id"] = self.webhook_id
        return values


# --- values --------------------------------------------------------------------------------


def value_of(amount: Decimal, currency: str) -> str:
    """PayPal's `value`: two decimals, or a whole number for HUF, JPY and TWD. Refuses digits
    it would have to drop."""
    digits = 0 if currency in WHOLE_AMOUNT_CURRENCIES else 2
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"PayPal amounts are positive, not {amount}")
    try:
        exact = amount.quantize(Decimal(1).scaleb(-digits))
    except InvalidOperation:
        raise ValueError(f"amount {amount} is too large") from None
    if exact != amount:
        raise ValueError(f"PayPal takes {currency} amounts with {digits} decimals, not {amount}")
    return f"{exact:f}"


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": value_of(amount, currency)}


def read_money(value: Any) -> Decimal | None:
    """A `Money` object's value; None when absent."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MalformedResponse(f"PayPal amount is not an object: {value!r}")
    text = value.get("value")
    if not isinstance(text, str) or not MONEY_VALUE.match(text) or len(text) > 32:
        raise MalformedResponse(f"PayPal amount value is not a decimal string: {text!r}")
    return Decimal(text)


def plain_text(text: str | None, limit: int) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())[:limit].strip()


def loads(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse("PayPal answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise MalformedResponse("PayPal answered with JSON that is not an object")
    return body


def dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def link(resource: Mapping[str, Any], *rels: str) -> str | None:
    """The first `href` among `links[]` with one of `rels`, in the order asked."""
    links = resource.get("links")
    if not isinstance(links, list):
        return None
    for rel in rels:
        for item in links:
            if isinstance(item, Mapping) and item.get("rel") == rel:
                href = item.get("href")
                if isinstance(href, str) and href:
                    return href
    return None


# --- requests ------------------------------------------------------------------------------


def intent_of(method: CaptureMethod) -> str:
    return "CAPTURE" if method is CaptureMethod.AUTOMATIC else "AUTHORIZE"


def create_body(request: CreatePayment, return_url: str) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "reference_id": request.order_reference[:256],
        "custom_id": str(request.payment_id),  # echoed by every capture and authorization
        "amount": money(request.amount, request.currency),
    }
    if len(request.order_reference) <= MAX_INVOICE_ID:
        unit["invoice_id"] = request.order_reference
    description = plain_text(request.description, MAX_DESCRIPTION)
    if description:
        unit["description"] = description
    paypal: dict[str, Any] = {
        "experience_context": {
            # Back to payrelay either way: it completes an approved order, then forwards the
            # customer to the merchant's return_url.
            "return_url": return_url,
            "cancel_url": return_url,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
        }
    }
    if request.customer_email:
        paypal["email_address"] = request.customer_email
    return {
        "intent": intent_of(request.capture_method),
        "purchase_units": [unit],
        "payment_source": {"paypal": paypal},
    }


def capture_body(request: OperationRequest) -> dict[str, Any]:
    """Capture of an authorization: the only one payrelay makes, so `final_capture` releases
    what is left. `invoice_id` is our key: the order lists it, so a lost answer can be found."""
    body: dict[str, Any] = {"invoice_id": request.idempotency_key, "final_capture": True}
    if request.amount is not None:
        body["amount"] = money(request.amount, request.currency)
    note = plain_text(request.reason, MAX_NOTE)
    if note:
        body["note_to_payer"] = note
    return body


def refund_body(request: OperationRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"invoice_id": request.idempotency_key}
    if request.amount is not None:
        body["amount"] = money(request.amount, request.currency)
    note = plain_text(request.reason, MAX_NOTE)
    if note:
        body["note_to_payer"] = note
    return body


# --- errors --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaypalError:
    status: int
    name: str
    message: str
    issue: str | None
    description: str | None
    links: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, status: int, content: bytes) -> PaypalError:
        """PayPal's error envelope (spec 2.4); an unreadable body still gives an error."""
        try:
            body = loads(content)
        except MalformedResponse:
            body = {}
        details = body.get("details")
        first = details[0] if isinstance(details, list) and details else {}
        first = first if isinstance(first, Mapping) else {}
        name = body.get("name") or body.get("error") or f"HTTP_{status}"
        message = body.get("message") or body.get("error_description") or f"HTTP {status}"
        found = body.get("links")
        links = found if isinstance(found, list) else []
        return cls(
            status=status,
            name=str(name),
            message=str(message),
            issue=str(first["issue"]) if first.get("issue") else None,
            description=str(first["description"]) if first.get("description") else None,
            links=tuple(item for item in links if isinstance(item, Mapping)),
            raw=body,
        )

    @property
    def code(self) -> str:
        return self.issue or self.name

    def decline(self) -> Decline:
        text = self.description or self.message
        return Decline(code=self.code.lower(), message=text, gateway_code=self.code)

    def declined_operation(self) -> OperationResult:
        return OperationResult(
            outcome=OperationOutcome.DECLINED,
            gateway_status=self.code[:50],
            decline=self.decline(),
            raw=dict(self.raw or {}),
        )

    def action_link(self) -> str | None:
        return link({"links": list(self.links)}, "payer-action", "approve")


def declined_operation(code: str, message: str, raw: Mapping[str, Any]) -> OperationResult:
    """A refusal decided here, before anything is sent."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=code.upper()[:50],
        decline=Decline(code=code, message=message),
        raw=dict(raw),
    )


def redirect(url: str) -> NextAction:
    return NextAction("redirect", {"url": url})


def payment_id_of(value: Any) -> uuid.UUID | None:
    """Our payment id from a `custom_id`; None for a value that is not ours."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
