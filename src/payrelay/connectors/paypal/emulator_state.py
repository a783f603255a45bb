"""The PayPal emulator's memory and rules (spec part 2), without HTTP.

Orders must be approved before they are captured or authorized; an authorization is captured at
most for its amount (plus an overage, an option), a capture refunded at most for its amount;
repeated `PayPal-Request-Id`s are answered with the current state of what the first request
made. Refusals use PayPal's error names and `issue` codes. Facts the spec marks unconfirmed are
`Options`, defaulting to what it documents.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payrelay.connectors.paypal.transformers import (
    CURRENCIES,
    MONEY_VALUE,
    WHOLE_AMOUNT_CURRENCIES,
)

DAY = 86400.0
ID_ALPHABET = string.ascii_uppercase + string.digits
CLIENT_ID = "payrelay-emulator-client"
CLIENT_SECRET = "payrelay-emulator-secret"  # noqa: S105 (the emulator's own test credential)


@dataclass(frozen=True, slots=True)
class Options:
    """`--option KEY=VALUE` settings; [?] marks what the spec leaves unconfirmed (its part 5)."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    token_ttl_seconds: int = 32400  # the samples' expires_in (9 h)
    replay_status: int = 200  # [?] status of an idempotent replay of a create/capture (or 201)
    create_status: str = "CREATED"  # [?] or PAYER_ACTION_REQUIRED (payer-action link)
    return_payer_id: bool = True  # [?] the return URL gets `token` and `PayerID`
    order_ttl_seconds: float = 3 * 3600  # to approve and complete an order
    authorization_days: float = 29  # validity; then voided (PAYMENT.AUTHORIZATION.VOIDED)
    expired_authorization_status: str = "VOIDED"  # [?] older docs: EXPIRED
    capture_overage_percent: int = 0  # [?] MAX_CAPTURE_AMOUNT_EXCEEDED threshold over 100 %
    max_captures: int = 10  # [?] per authorization
    max_refunds: int = 10  # [?] per capture
    refund_days: float = 180
    webhook_url: str = ""  # a webhook registered at start (for `payrelay emulate`)
    webhook_id: str = ""  # its id (generated when empty)
    webhook_retries: int = 0  # PayPal: up to 25 over 3 days (intervals unpublished)
    webhook_retry_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    verify_result: str = "auto"  # verify-webhook-signature: auto (checks), SUCCESS, FAILURE
    hang_seconds: float = 30.0

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> Options:
        known = {item.name for item in fields(cls)}
        unknown = set(given) - known
        if unknown:
            raise ValueError(f"unknown paypal emulator options: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, text in given.items():
            kind = type(getattr(cls(), name))
            try:
                if kind is bool:
                    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(text)
                    values[name] = text.lower() in ("true", "1", "yes")
                else:
                    values[name] = kind(text)
            except ValueError:
                raise ValueError(f"paypal emulator option {name}: bad value {text!r}") from None
        options = cls(**values)
        checks = {
            "replay_status": options.replay_status in (200, 201),
            "create_status": options.create_status in ("CREATED", "PAYER_ACTION_REQUIRED"),
            "expired_authorization_status": options.expired_authorization_status
            in ("VOIDED", "EXPIRED"),
            "verify_result": options.verify_result in ("auto", "SUCCESS", "FAILURE"),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"paypal emulator option {name}: bad value")
        return options


class ApiError(Exception):
    """PayPal refuses the request (its error envelope, spec 2.4); nothing changes."""

    def __init__(
        self,
        status: int,
        name: str,
        message: str,
        issue: str | None = None,
        description: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{name}: {issue or message}")
        self.status, self.name, self.message = status, name, message
        self.issue, self.description, self.field = issue, description, field


def invalid(issue: str, description: str, field: str | None = None) -> ApiError:
    return ApiError(
        400,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        issue,
        description,
        field,
    )


def unprocessable(issue: str, description: str, field: str | None = None) -> ApiError:
    return ApiError(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
        issue,
        description,
        field,
    )


def not_found() -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist. Please check the resource ID and try again.",
    )


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to invalid authentication credentials or a missing "
        "Authorization header.",
    )


def in_progress() -> ApiError:
    return ApiError(
        409,
        "RESOURCE_CONFLICT",
        "The server has detected a conflict while processing this request.",
        "PREVIOUS_REQUEST_IN_PROGRESS",
        "A previous request on this resource is currently in progress. Please wait for some "
        "time and try again.",
    )


def new_id(length: int = 17) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- objects -------------------------------------------------------------------------------


@dataclass
class Order:
    id: str
    client_id: str
    intent: str
    status: str
    unit: dict[str, Any]  # the purchase unit as sent (amount, reference_id, custom_id, ...)
    amount: Decimal
    currency: str
    return_url: str
    cancel_url: str
    created_at: float
    updated_at: float
    payer: dict[str, Any] | None = None
    funding: str = ""  # balance | declined (at capture/authorize) | card_3ds (challenge first)
    three_ds_passed: bool = False
    capture_status: str = "COMPLETED"  # what the next capture of this order becomes
    authorizations: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)


@dataclass
class Authorization:
    id: str
    order_id: str
    amount: Decimal
    currency: str
    status: str
    created_at: float
    updated_at: float
    custom_id: str | None
    invoice_id: str | None
    captured: Decimal = Decimal(0)
    captures: list[str] = field(default_factory=list)


@dataclass
class Capture:
    id: str
    order_id: str
    authorization_id: str | None
    amount: Decimal
    currency: str
    status: str
    final_capture: bool
    created_at: float
    updated_at: float
    custom_id: str | None
    invoice_id: str | None
    note: str | None = None
    refunds: list[str] = field(default_factory=list)

    def refunded(self, refunds: Mapping[str, Refund]) -> Decimal:
        done = (refunds[r].amount for r in self.refunds if refunds[r].status == "COMPLETED")
        return sum(done, start=Decimal(0))


@dataclass
class Refund:
    id: str
    capture_id: str
    order_id: str
    amount: Decimal
    currency: str
    status: str
    created_at: float
    updated_at: float
    invoice_id: str | None
    custom_id: str | None
    note: str | None


@dataclass
class Stored:
    """What PayPal remembers of one PayPal-Request-Id (spec 2.5)."""

    kind: str  # order | authorization | capture | refund
    resource_id: str | None = None  # None while in flight
    status: int = 201


# --- values --------------------------------------------------------------------------------


def text(body: Mapping[str, Any], name: str, limit: int, path: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("INVALID_PARAMETER_SYNTAX", f"{name} must be a string.", path)
    if not 1 <= len(value) <= limit:
        raise invalid(
            "INVALID_STRING_LENGTH", "The value of a field is either too short or too long.", path
        )
    return value


def money(value: Any, path: str, currency: str | None = None) -> tuple[Decimal, str]:
    """A `Money` object: (value, currency), with PayPal's checks."""
    if not isinstance(value, Mapping):
        raise invalid("MISSING_REQUIRED_PARAMETER", "A required field is missing.", path)
    code, amount = value.get("currency_code"), value.get("value")
    if not isinstance(code, str) or len(code) != 3:
        raise invalid(
            "INVALID_PARAMETER_SYNTAX", "currency_code is 3 letters.", f"{path}/currency_code"
        )
    if not isinstance(amount, str) or len(amount) > 32 or not MONEY_VALUE.match(amount):
        raise invalid(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            f"{path}/value",
        )
    if code not in CURRENCIES:
        raise unprocessable(
            "CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported.", path
        )
    if currency is not None and code != currency:
        raise unprocessable(
            "CURRENCY_MISMATCH", "Currency code should be the same as the original.", path
        )
    parsed = Decimal(amount)
    exponent = -parsed.as_tuple().exponent  # type: ignore[operator]
    if code in WHOLE_AMOUNT_CURRENCIES and exponent > 0:
        raise unprocessable(
            "DECIMALS_NOT_SUPPORTED", "Currency does not support decimals.", f"{path}/value"
        )
    if exponent > 2:
        raise unprocessable(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
            f"{path}/value",
        )
    if parsed <= 0:
        raise unprocessable(
            "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", f"{path}/value"
        )
    return parsed, code


def value_text(amount: Decimal, currency: str) -> str:
    digits = 0 if currency in WHOLE_AMOUNT_CURRENCIES else 2
    return f"{amount.quantize(Decimal(1).scaleb(-digits)):f}"


class Clock:
    """The emulator's time: the real clock plus an offset scripts can move forward."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source
        self.offset = 0.0

    def __call__(self) -> float:
        return self.source() + self.offset


def url(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid("INVALID_PARAMETER_SYNTAX", "The URL is not valid.", path)
    if len(value) > 2048:
        raise invalid("INVALID_STRING_LENGTH", "The URL is too long.", path)
    return value
