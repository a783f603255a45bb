"""Pure mapping between canonical types and IXOPAY Transaction API v3 JSON (spec 3.3–3.9).

No I/O. Statuses: the gateway's `returnType` (answers), `transactionStatus` (status API) and
`result` (callbacks) are stored as the marketplace document's AllSecure statuses — SUCCESSFUL,
PENDING, REDIRECT, CANCELLED, ERROR.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from payrelay.connectors.allsecure.codes import ERROR_CODES, lookup
from payrelay.connectors.base import (
    ConfigInvalid,
    CreatePayment,
    Decline,
    GatewayEvent,
    NextAction,
    OperationOutcome,
    OperationRequest,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)
from payrelay.enums import CaptureMethod
from payrelay.kit.money import format_amount

SANDBOX_HOST = "https://asxgw.paymentsandbox.cloud"
CURRENCIES = ("RSD", "EUR")  # RSD first: the marketplace's default currency
MAX_AMOUNT = Decimal("9999999999.99")  # ten integer digits (the API's amount pattern)
REQUIRED_KEYS = ("api_key", "shared_secret", "username", "password")
MAX_ID = 50  # merchantTransactionId, apiKey
MAX_DESCRIPTION = 255
METADATA_PREFIX = "payrelay:"

AMOUNT = re.compile(r"^(([0-9]{1,10})|([0-9]{1,10}\.[0-9]{1,3}))$")
# What we send as merchantTransactionId: it also travels in the status API's URL path.
TRANSACTION_ID = re.compile(r"^[A-Za-z0-9._-]{1,50}$")
INITIAL_TYPES = frozenset({"DEBIT", "PREAUTHORIZE"})
GATEWAY_STATUS = {
    "SUCCESS": "SUCCESSFUL",
    "PENDING": "PENDING",
    "REDIRECT": "REDIRECT",
    "CANCELLED": "CANCELLED",
    "ERROR": "ERROR",
}
RESULT_STATUS = {"OK": "SUCCESSFUL", "PENDING": "PENDING", "ERROR": "ERROR"}


class MalformedResponse(ValueError):
    """AllSecure answered something we cannot read: the outcome is unknown."""


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllSecureConfig:
    api_key: str
    shared_secret: str
    username: str
    password: str

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> AllSecureConfig:
        unknown = set(config) - set(REQUIRED_KEYS)
        if unknown:
            raise ConfigInvalid(f"unknown allsecure config keys: {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for key in REQUIRED_KEYS:
            value = config.get(key)
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise ConfigInvalid(f"allsecure {key} must be a non-empty string without spaces")
            values[key] = value
        if len(values["api_key"]) > MAX_ID or "/" in values["api_key"]:
            raise ConfigInvalid("allsecure api_key has at most 50 characters and no '/'")
        if ":" in values["username"]:
            raise ConfigInvalid("allsecure username must not contain ':' (HTTP Basic)")
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in REQUIRED_KEYS}


# --- values --------------------------------------------------------------------------------


def transaction_id(idempotency_key: str) -> str:
    """Our operation's key as its merchantTransactionId. payrelay's keys (`payrelay-<uuid>`, 45
    characters) fit as they are; anything else is hashed into the limit, deterministically."""
    if TRANSACTION_ID.fullmatch(idempotency_key):
        return idempotency_key
    return "payrelay-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def amount_text(amount: Decimal, currency: str) -> str:
    """A decimal string in the currency's minor unit ("1250.50"); never rounds."""
    text = format_amount(amount, currency)
    if not AMOUNT.fullmatch(text):
        raise ValueError(f"AllSecure cannot take the amount {text}")
    return text


def metadata(payment_id: uuid.UUID) -> str:
    """`merchantMetaData`: echoed in callbacks, so a callback finds its payment even when the
    answer that carried the uuid was lost."""
    return f"{METADATA_PREFIX}{payment_id}"


def payment_id_of(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str) or not value.startswith(METADATA_PREFIX):
        return None
    try:
        return uuid.UUID(value.removeprefix(METADATA_PREFIX))
    except ValueError:
        return None


def _text(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def loads(content: bytes) -> dict[str, Any]:
    """A JSON object; numbers stay exact (no floats)."""
    try:
        body = json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse("AllSecure answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise MalformedResponse("AllSecure answered with JSON that is not an object")
    return body


def dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plain(value: Any) -> Any:
    """A parsed body as JSON-storable data (exact numbers as integers or text)."""
    if isinstance(value, Decimal):
        integral = value.is_finite() and value == value.to_integral_value()
        return int(value) if integral else str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


# --- requests ------------------------------------------------------------------------------


def payment_body(request: CreatePayment, return_url: str, callback_url: str) -> dict[str, Any]:
    """`debit` (automatic capture) or `preauthorize` (manual): no card data, so AllSecure
    answers with its payment page (REDIRECT) unless the connector is set up otherwise."""
    description = _text(request.description, MAX_DESCRIPTION) or _text(
        f"Order {request.order_id}", MAX_DESCRIPTION
    )
    body: dict[str, Any] = {
        "merchantTransactionId": transaction_id(request.idempotency_key),
        "amount": amount_text(request.amount, request.currency),
        "currency": request.currency,
        "successUrl": return_url,
        "cancelUrl": return_url,
        "errorUrl": return_url,
        "callbackUrl": callback_url,
        "description": description,
        "merchantMetaData": metadata(request.payment_id),
    }
    if request.customer_email:
        body["customer"] = {"email": request.customer_email}
    return body


def endpoint(capture_method: CaptureMethod) -> str:
    return "debit" if capture_method is CaptureMethod.AUTOMATIC else "preauthorize"


def capture_body(request: OperationRequest, amount: Decimal) -> dict[str, Any]:
    return _follow_up(request, request.gateway_transaction_id, amount)


def void_body(request: OperationRequest) -> dict[str, Any]:
    return _follow_up(request, request.gateway_transaction_id, None)  # the whole authorization


def refund_body(
    request: OperationRequest, amount: Decimal, reference_uuid: str, callback_url: str
) -> dict[str, Any]:
    """A refund names the DEBIT or the CAPTURE it gives money back from."""
    return {**_follow_up(request, reference_uuid, amount), "callbackUrl": callback_url}


def _follow_up(
    request: OperationRequest, reference_uuid: str, amount: Decimal | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchantTransactionId": transaction_id(request.idempotency_key),
        "referenceUuid": reference_uuid,
    }
    if amount is not None:
        body["amount"] = amount_text(amount, request.currency)
        body["currency"] = request.currency
    reason = _text(request.reason, MAX_DESCRIPTION)
    if reason:
        body["description"] = reason
    return body


# --- answers -------------------------------------------------------------------------------


def general_error(body: Mapping[str, Any]) -> int | None:
    """The code of a general error (`{"success": false, "errorCode", "errorMessage"}`: the
    request was refused before any transaction existed), else None."""
    if body.get("success") is not False or "returnType" in body:
        return None
    return _code(body.get("errorCode")) or 1000


def decline_of(body: Mapping[str, Any]) -> Decline:
    """The first error of an answer or callback (`errors[]`, or the fields at the top level)."""
    errors = body.get("errors")
    error: Mapping[str, Any] = body
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        error = errors[0]
    code = _code(error.get("errorCode", error.get("code")))
    text = error.get("errorMessage", error.get("message"))
    gateway_message = text if isinstance(text, str) and text else None
    adapter_code, adapter_message = error.get("adapterCode"), error.get("adapterMessage")
    if adapter_code or adapter_message:
        adapter = ": ".join(str(part) for part in (adapter_code, adapter_message) if part)
        gateway_message = f"{gateway_message or 'error'} (acquirer {adapter})"
    if code is None:
        return Decline("declined", "Declined by the gateway", None, gateway_message)
    entry = lookup(code)
    return Decline(entry.reason, entry.message, str(code), gateway_message)


def create_result(body: Mapping[str, Any], capture_method: CaptureMethod) -> PaymentResult:
    """The answer to debit or preauthorize."""
    return_type, success = body.get("returnType"), body.get("success")
    uuid_, purchase_id = _optional(body, "uuid"), _optional(body, "purchaseId")
    raw = plain(body)
    if return_type == "ERROR" or success is False:
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status="ERROR",
            gateway_transaction_id=uuid_,
            gateway_reference_id=purchase_id,
            decline=decline_of(body),
            raw=raw,
        )
    if success is not True or uuid_ is None:
        raise MalformedResponse(f"AllSecure answered {return_type!r} without success or uuid")
    if return_type == "FINISHED":
        manual = capture_method is CaptureMethod.MANUAL
        outcome = PaymentOutcome.AUTHORIZED if manual else PaymentOutcome.CAPTURED
        return PaymentResult(outcome, "SUCCESSFUL", uuid_, purchase_id, raw=raw)
    if return_type == "REDIRECT":
        url = body.get("redirectUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MalformedResponse("AllSecure asked for a redirect without a redirectUrl")
        redirect = NextAction("redirect", {"url": url})
        return PaymentResult(
            PaymentOutcome.PENDING, "REDIRECT", uuid_, purchase_id, redirect, raw=raw
        )
    if return_type in ("PENDING", "HTML"):  # HTML: a page payrelay cannot show; wait for it
        return PaymentResult(PaymentOutcome.PENDING, "PENDING", uuid_, purchase_id, raw=raw)
    raise MalformedResponse(f"AllSecure answered with returnType {return_type!r}")


def operation_result(body: Mapping[str, Any]) -> OperationResult:
    """The answer to capture, void or refund."""
    return_type, success = body.get("returnType"), body.get("success")
    uuid_ = _optional(body, "uuid")
    raw = plain(body)
    if return_type == "ERROR" or success is False:
        return OperationResult(OperationOutcome.DECLINED, "ERROR", uuid_, decline_of(body), raw)
    if success is not True:
        raise MalformedResponse(f"AllSecure answered {return_type!r} without success")
    if return_type == "FINISHED":
        return OperationResult(OperationOutcome.SUCCEEDED, "SUCCESSFUL", uuid_, raw=raw)
    if return_type in ("PENDING", "REDIRECT", "HTML"):
        return OperationResult(OperationOutcome.PENDING, "PENDING", uuid_, raw=raw)
    raise MalformedResponse(f"AllSecure answered with returnType {return_type!r}")


def refused_payment(code: str, message: str) -> PaymentResult:
    """A create refused before it was sent: no transaction exists, nothing is charged."""
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED, gateway_status="ERROR", decline=Decline(code, message)
    )


def refused_operation(code: str, message: str) -> OperationResult:
    """An operation refused before it was sent."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED, gateway_status="ERROR", decline=Decline(code, message)
    )


def refusal(code: int, body: Mapping[str, Any]) -> Decline:
    """A general error as a decline: our reason for its code, the gateway's own text."""
    entry = lookup(code)
    text = body.get("errorMessage")
    return Decline(entry.reason, entry.message, str(code), text if isinstance(text, str) else None)


# --- status API (spec 3.5) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """One transaction as the status API describes it."""

    status: str  # SUCCESS, PENDING, REDIRECT, CANCELLED, ERROR
    transaction_type: str  # DEBIT, PREAUTHORIZE, CAPTURE, VOID, REFUND, ...
    uuid: str
    body: Mapping[str, Any]

    @property
    def initial(self) -> bool:
        return self.transaction_type in INITIAL_TYPES


def status_of(body: Mapping[str, Any]) -> Status:
    status = body.get("transactionStatus")
    kind = body.get("transactionType")
    uuid_ = _optional(body, "uuid")
    if body.get("success") is not True or not isinstance(status, str) or uuid_ is None:
        raise MalformedResponse("AllSecure's status answer has no transactionStatus or uuid")
    if status.upper() not in GATEWAY_STATUS or not isinstance(kind, str):
        raise MalformedResponse(f"AllSecure's status answer says {status!r} / {kind!r}")
    return Status(status.upper(), kind.upper(), uuid_, body)


def payment_status(
    initial: Status, operations: Mapping[str, OperationOutcome] | None = None
) -> PaymentResult:
    """The payment as its DEBIT or PREAUTHORIZE stands; `operations`: what became of ours."""
    if not initial.initial:
        raise MalformedResponse(f"{initial.transaction_type} is not a payment transaction")
    body, status = initial.body, initial.status
    amount = _amount(body.get("amount"))
    decline = None
    if status == "SUCCESS":
        debit = initial.transaction_type == "DEBIT"
        outcome = PaymentOutcome.CAPTURED if debit else PaymentOutcome.AUTHORIZED
    elif status in ("PENDING", "REDIRECT"):
        outcome = PaymentOutcome.PENDING
    else:
        outcome = PaymentOutcome.DECLINED
        decline = decline_of(body)
        if decline.gateway_code is None and status == "CANCELLED":
            entry = lookup(2012)
            decline = Decline(entry.reason, entry.message, None, decline.gateway_message)
    return PaymentResult(
        outcome=outcome,
        gateway_status=GATEWAY_STATUS[status],
        gateway_transaction_id=initial.uuid,
        gateway_reference_id=_optional(body, "purchaseId"),
        amount=amount,
        captured_amount=amount if outcome is PaymentOutcome.CAPTURED else None,
        decline=decline,
        operations=dict(operations or {}),
        raw=plain(body),
    )


def operation_status(status: Status) -> OperationOutcome | None:
    """What became of one of our captures, voids or refunds; None while it is in flight."""
    if status.status == "SUCCESS":
        return OperationOutcome.SUCCEEDED
    if status.status in ("ERROR", "CANCELLED"):
        return OperationOutcome.DECLINED
    return None


def not_found() -> PaymentResult:
    """The gateway has no transaction with our id: our create never arrived."""
    entry = ERROR_CODES[8001]
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status="ERROR",
        decline=Decline(entry.reason, entry.message, "8001"),
        found=False,
    )


# --- callbacks (spec 3.6) ------------------------------------------------------------------


def callback_event(body: Mapping[str, Any], received_at: datetime) -> GatewayEvent:
    """One callback as a canonical event. Deterministic: the same body gives the same event.

    Callbacks about the payment itself (DEBIT, PREAUTHORIZE) move it: they are signed and
    AllSecure calls them authoritative. Callbacks about a capture, void or refund (and
    chargebacks) move nothing: that operation is settled by its own answer or, when the answer
    was lost, by a status query for its merchantTransactionId. They are kept for the audit.
    """
    result, kind = body.get("result"), body.get("transactionType")
    uuid_ = _optional(body, "uuid")
    if result not in RESULT_STATUS or not isinstance(kind, str) or uuid_ is None:
        raise MalformedResponse("callback without result, transactionType or uuid")
    if not isinstance(body.get("merchantTransactionId"), str):
        raise MalformedResponse("callback without merchantTransactionId")
    kind = kind.upper()
    initial = kind in INITIAL_TYPES
    outcome = PaymentOutcome.PENDING
    if initial and result == "OK":
        debit = kind == "DEBIT"
        outcome = PaymentOutcome.CAPTURED if debit else PaymentOutcome.AUTHORIZED
    elif initial and result == "ERROR":
        outcome = PaymentOutcome.DECLINED
    return GatewayEvent(
        # A transaction may call back several times (PENDING, then OK); a repeat is the same.
        event_id=f"{kind}:{uuid_}:{result}",
        event_type=f"{kind.lower()}.{str(result).lower()}",
        outcome=outcome,
        gateway_status=RESULT_STATUS[str(result)],
        occurred_at=received_at,
        payment_id=payment_id_of(body.get("merchantMetaData")) if initial else None,
        gateway_transaction_id=uuid_ if initial else _optional(body, "referenceUuid"),
        amount=_amount(body.get("amount")),
        decline=decline_of(body) if outcome is PaymentOutcome.DECLINED else None,
        raw=plain(body),
    )


# --- helpers -------------------------------------------------------------------------------


def _optional(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str | Decimal):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
    return None


def _amount(value: Any) -> Decimal | None:
    """An amount as sent ("9.99"; the PHP client may send "10" or a number); None if absent."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int | str | Decimal):
        raise MalformedResponse(f"AllSecure amount is not a number: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedResponse(f"AllSecure amount is not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise MalformedResponse(f"AllSecure amount out of range: {value!r}")
    return amount
