"""Pure mapping between canonical types and Stripe's objects (spec 1.2–1.5). No I/O.

Objects come in as plain dicts (`StripeObject.to_dict()`, or a webhook's JSON). A payment is a
hosted Checkout Session (`cs_…`, the payment's `gateway_transaction_id`); once the customer pays,
the session has a PaymentIntent (`pi_…`, the `gateway_reference_id`) that is captured, cancelled
and refunded. Our ids travel in `metadata`, which Stripe echoes in every object and webhook.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payrelay.connectors.base import (
    ConfigInvalid,
    CreatePayment,
    Decline,
    NextAction,
    OperationOutcome,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)
from payrelay.connectors.stripe import currencies
from payrelay.enums import CaptureMethod

API_BASE = "https://api.stripe.com"
SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")

# Metadata keys (Stripe: at most 40 characters a key, 500 a value).
PAYMENT_ID = "payrelay_payment_id"
ORDER_REFERENCE = "payrelay_order_reference"
CAPTURE_KEY = "payrelay_capture"  # set by our capture: the PaymentIntent names the capture
VOID_KEY = "payrelay_void"  # set just before our cancel
REFUND_KEY = "payrelay_refund"  # on each refund we create
REASON = "payrelay_reason"
MAX_METADATA_VALUE = 500

_REFERENCE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class MalformedResponse(ValueError):
    """Stripe answered something we cannot read: the outcome is unknown."""


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StripeConfig:
    secret_key: str
    webhook_secret: str

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> StripeConfig:
        unknown = set(config) - {"secret_key", "webhook_secret"}
        if unknown:
            raise ConfigInvalid(f"unknown stripe config keys: {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for key in ("secret_key", "webhook_secret"):
            value = config.get(key)
            if not isinstance(value, str) or not value or value != value.strip():
                raise ConfigInvalid(f"stripe {key} must be a non-empty string without spaces")
            values[key] = value
        if values["secret_key"].startswith("pk_"):
            raise ConfigInvalid("stripe secret_key: a publishable key (pk_…) cannot call the API")
        if not values["secret_key"].startswith(SECRET_KEY_PREFIXES):
            raise ConfigInvalid("stripe secret_key must start with sk_test_, sk_live_ or rk_…")
        if not values["webhook_secret"].startswith("whsec_"):
            raise ConfigInvalid("stripe webhook_secret must start with whsec_")
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {"secret_key": self.secret_key, "webhook_secret": self.webhook_secret}


# --- requests ------------------------------------------------------------------------------


def _text(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def client_reference(order_reference: str) -> str:
    return _REFERENCE_UNSAFE.sub("-", order_reference)[:200].strip("-") or "payrelay"


def checkout_params(request: CreatePayment, return_url: str) -> dict[str, Any]:
    """`POST /v1/checkout/sessions`: the same request always gives the same parameters, so a
    retry under the same Idempotency-Key is the same request for Stripe."""
    minor = currencies.to_minor(request.amount, request.currency)
    metadata = {
        PAYMENT_ID: str(request.payment_id),
        ORDER_REFERENCE: request.order_reference[:MAX_METADATA_VALUE],
    }
    manual = request.capture_method is CaptureMethod.MANUAL
    intent: dict[str, Any] = {
        "capture_method": "manual" if manual else "automatic",
        "metadata": metadata,
    }
    description = _text(request.description, 1000)
    if description:
        intent["description"] = description
    name = _text(request.description, 250) or _text(f"Order {request.order_id}", 250)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": minor,
                    "product_data": {"name": name},
                },
            }
        ],
        "payment_method_types": ["card"],
        "payment_intent_data": intent,
        "metadata": metadata,
        "client_reference_id": client_reference(request.order_reference),
        # The customer comes back to payrelay, which forwards to the merchant's return_url.
        "success_url": return_url,
        "cancel_url": return_url,
    }
    if request.customer_email:
        params["customer_email"] = request.customer_email
    return params


def capture_params(key: str, amount: Decimal | None, currency: str) -> dict[str, Any]:
    params: dict[str, Any] = {"metadata": {CAPTURE_KEY: key}}
    if amount is not None:
        params["amount_to_capture"] = currencies.to_minor(amount, currency)
    return params


def refund_params(
    key: str,
    payment_intent: str,
    amount: Decimal | None,
    currency: str,
    reason: str | None,
    payment_id: str | None,
) -> dict[str, Any]:
    metadata = {REFUND_KEY: key}
    if payment_id:
        metadata[PAYMENT_ID] = payment_id
    if reason:
        metadata[REASON] = _text(reason, MAX_METADATA_VALUE)
    params: dict[str, Any] = {"payment_intent": payment_intent, "metadata": metadata}
    if amount is not None:
        params["amount"] = currencies.to_minor(amount, currency)
    return params


# --- values --------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Parsed JSON as storable data: exact numbers as integers, or text."""
    if isinstance(value, Decimal):
        integral = value.is_finite() and value == value.to_integral_value()
        return int(value) if integral else str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def text_of(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def integer_of(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise MalformedResponse(f"Stripe {key} is not an integer: {value!r}")
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise MalformedResponse(f"Stripe {key} is not an integer: {value!r}")
    return int(value)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def payment_id_of(obj: Mapping[str, Any]) -> uuid.UUID | None:
    value = _metadata(obj).get(PAYMENT_ID)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def amount_of(obj: Mapping[str, Any], key: str) -> Decimal:
    currency = text_of(obj, "currency")
    if currency is None:
        raise MalformedResponse(f"Stripe {obj.get('object')} without a currency")
    try:
        return currencies.from_minor(integer_of(obj, key), currency)
    except ValueError as exc:  # an unknown currency
        raise MalformedResponse(f"Stripe amount in {currency!r}") from exc


def decline_of(error: Mapping[str, Any] | None, fallback: str = "payment_failed") -> Decline:
    """A Stripe error object (or `last_payment_error`) as our decline."""
    error = error or {}
    code = (
        text_of(error, "decline_code")
        or text_of(error, "code")
        or text_of(error, "type")
        or fallback
    )
    return Decline(
        code=code,
        message=text_of(error, "message") or "Stripe declined the payment",
        gateway_code=text_of(error, "code") or text_of(error, "type"),
    )


def declined_operation(
    code: str, message: str, raw: Mapping[str, Any] | None = None
) -> OperationResult:
    """A refusal decided here, or by Stripe before anything moved."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=code[:50],
        decline=Decline(code=code, message=message, gateway_code=code),
        raw=plain(raw or {}),
    )


def refusal(error: Mapping[str, Any], status: int) -> Decline:
    """Stripe's error answer as our decline; refused credentials say so."""
    if status in (401, 403):
        code = "gateway_authentication_failed" if status == 401 else "gateway_permission_denied"
        message = text_of(error, "message") or f"Stripe answered HTTP {status}"
        return Decline(code=code, message=message, gateway_code=str(status))
    return decline_of(error, fallback=f"http_{status}")


def refused_operation(error: Mapping[str, Any], status: int) -> OperationResult:
    decline = refusal(error, status)
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=(decline.gateway_code or decline.code)[:50],
        decline=decline,
        raw={"error": plain(error), "httpStatus": status},
    )


# --- answers -------------------------------------------------------------------------------


def session_created(session: Mapping[str, Any]) -> PaymentResult:
    """The answer to create: the hosted page to send the customer to."""
    session_id, url = text_of(session, "id"), text_of(session, "url")
    if session_id is None or url is None:
        raise MalformedResponse("Stripe created a Checkout Session without an id or url")
    return PaymentResult(
        outcome=PaymentOutcome.PENDING,
        gateway_status=text_of(session, "status") or "open",
        gateway_transaction_id=session_id,
        next_action=NextAction("redirect", {"url": url}),
        amount=amount_of(session, "amount_total"),
        raw=plain(session),
    )


def refused_payment(error: Mapping[str, Any], status: int) -> PaymentResult:
    """Stripe refused to create the session: nothing will be charged."""
    decline = refusal(error, status)
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=(decline.gateway_code or decline.code)[:50],
        decline=decline,
        raw={"error": plain(error), "httpStatus": status},
    )


def declined_payment(code: str, message: str) -> PaymentResult:
    """A create refused here, before anything was sent."""
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=code[:50],
        decline=Decline(code=code, message=message),
    )


def not_found(session_id: str | None) -> PaymentResult:
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status="resource_missing",
        decline=Decline("resource_missing", f"Stripe has no Checkout Session {session_id}"),
        found=False,
    )


def intent_state(
    session_status: str, intent: Mapping[str, Any] | None
) -> tuple[PaymentOutcome, Decimal | None, Decline | None]:
    """What a session and its PaymentIntent say about the payment. A failed attempt is not the
    end while the session is open: Checkout lets the customer try another card."""
    if intent is None:
        expired = session_status == "expired"
        return (PaymentOutcome.EXPIRED if expired else PaymentOutcome.PENDING), None, None
    status = text_of(intent, "status")
    if status == "succeeded":
        return PaymentOutcome.CAPTURED, amount_of(intent, "amount_received"), None
    if status == "requires_capture":
        return PaymentOutcome.AUTHORIZED, amount_of(intent, "amount_capturable"), None
    if status == "canceled" and session_status == "complete":
        return PaymentOutcome.VOIDED, None, None  # released after the authorization
    if session_status == "expired" and status != "processing":
        error = intent.get("last_payment_error")
        return (
            PaymentOutcome.DECLINED,
            None,
            decline_of(error if isinstance(error, Mapping) else None),
        )
    return PaymentOutcome.PENDING, None, None


def status_result(
    session: Mapping[str, Any],
    intent: Mapping[str, Any] | None,
    refunds: Sequence[Mapping[str, Any]],
) -> PaymentResult:
    """A status query: the session, its PaymentIntent and refunds, and what became of ours."""
    session_status = text_of(session, "status") or "open"
    outcome, amount, decline = intent_state(session_status, intent)
    operations: dict[str, OperationOutcome] = {}
    captured = refunded = None
    if intent is not None:
        captured = amount_of(intent, "amount_received")
        operations.update(_intent_operations(intent))
        refunded = Decimal(0)
        for refund in refunds:
            verdict = refund_outcome(text_of(refund, "status"))
            key = text_of(_metadata(refund), REFUND_KEY)
            if key is not None and verdict is not None:
                operations[key] = verdict
            if verdict is OperationOutcome.SUCCEEDED:
                refunded += amount_of(refund, "amount")
    url = text_of(session, "url")
    # Still payable: the page to send the customer to (a lost create found by the janitor).
    payable = outcome is PaymentOutcome.PENDING and session_status == "open" and url is not None
    return PaymentResult(
        outcome=outcome,
        gateway_status=(text_of(intent, "status") if intent else None) or session_status,
        gateway_transaction_id=text_of(session, "id"),
        gateway_reference_id=text_of(intent, "id") if intent else None,
        next_action=NextAction("redirect", {"url": url}) if payable else None,
        amount=amount if amount is not None else amount_of(session, "amount_total"),
        captured_amount=captured,
        refunded_amount=refunded,
        decline=decline,
        operations=operations,
        raw=plain({"session": session, "refunds": list(refunds)}),
    )


def _intent_operations(intent: Mapping[str, Any]) -> dict[str, OperationOutcome]:
    """Our capture and void, as the PaymentIntent's metadata names them."""
    operations: dict[str, OperationOutcome] = {}
    status = text_of(intent, "status")
    capture = text_of(_metadata(intent), CAPTURE_KEY)
    if capture is not None and status == "succeeded":  # only a capture that happened sets it
        operations[capture] = OperationOutcome.SUCCEEDED
    void = text_of(_metadata(intent), VOID_KEY)
    if void is not None and status == "canceled":
        operations[void] = OperationOutcome.SUCCEEDED
    elif void is not None and status in ("requires_capture", "succeeded"):
        operations[void] = OperationOutcome.DECLINED  # marked, but the cancel never happened
    return operations


def refund_outcome(status: str | None) -> OperationOutcome | None:
    if status == "succeeded":
        return OperationOutcome.SUCCEEDED
    if status in ("failed", "canceled"):
        return OperationOutcome.DECLINED
    if status in ("pending", "requires_action"):
        return OperationOutcome.PENDING
    return None


def capture_result(intent: Mapping[str, Any]) -> OperationResult:
    status = text_of(intent, "status")
    if status == "succeeded":
        return OperationResult(
            outcome=OperationOutcome.SUCCEEDED,
            gateway_status=status,
            gateway_operation_id=text_of(intent, "latest_charge"),
            raw=plain(intent),
        )
    if status == "processing":
        return OperationResult(OperationOutcome.PENDING, status, raw=plain(intent))
    raise MalformedResponse(f"Stripe answered a capture with a {status} PaymentIntent")


def cancel_result(intent: Mapping[str, Any]) -> OperationResult:
    status = text_of(intent, "status")
    if status != "canceled":
        raise MalformedResponse(f"Stripe answered a cancel with a {status} PaymentIntent")
    return OperationResult(
        outcome=OperationOutcome.SUCCEEDED,
        gateway_status=status,
        gateway_operation_id=text_of(intent, "id"),
        raw=plain(intent),
    )


def refund_result(refund: Mapping[str, Any]) -> OperationResult:
    status = text_of(refund, "status")
    verdict = refund_outcome(status)
    if verdict is None or status is None:
        raise MalformedResponse(f"Stripe refund with status {status!r}")
    decline = None
    if verdict is OperationOutcome.DECLINED:
        reason = text_of(refund, "failure_reason") or f"refund_{status}"
        decline = Decline(code=reason, message=f"Stripe refund {status}", gateway_code=status)
    return OperationResult(
        outcome=verdict,
        gateway_status=status,
        gateway_operation_id=text_of(refund, "id"),
        decline=decline,
        raw=plain(refund),
    )
