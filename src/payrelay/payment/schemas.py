"""The payment API's request and response bodies (design §9)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    model_validator,
)

from payrelay.enums import CaptureMethod, EscrowStatus, PaymentStatus
from payrelay.kit.money import format_amount, is_currency

_AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,10})?$"
_AMOUNT = re.compile(_AMOUNT_PATTERN)
_REFERENCE_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"


def _parse_amount(value: Any) -> Decimal:
    """Amounts are decimal strings ("1250.50"); integers are accepted, floats never are."""
    if isinstance(value, bool | float):
        raise ValueError('amounts must be strings such as "1250.50" (or integers), never floats')
    if isinstance(value, int):
        if value < 0 or value >= 10**15:
            raise ValueError("amount out of range")
        return Decimal(value)
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        return Decimal(value)
    raise ValueError('amount must be a non-negative decimal string such as "1250.50"')


AmountIn = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _AMOUNT_PATTERN,
            "examples": ["150000", "1250.50"],
            "description": "Decimal string in the currency's unit, at most its minor-unit digits.",
        }
    ),
]


def _currency(value: str) -> str:
    code = value.upper()
    if not is_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$", examples=["VND", "RSD", "USD"]),
    AfterValidator(_currency),
]
Reference = Annotated[str, Field(pattern=_REFERENCE_PATTERN, description="Merchant's own id.")]
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
MetadataValue = Annotated[str, Field(max_length=500)] | int | bool | None


def _reject_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL characters: refuse them at the edge (422), anywhere."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key)
            _reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            _reject_nul(item)
    return value


class RequestBody(BaseModel):
    """Base of every request body: unknown fields and NUL characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _reject_nul(data)


class CreatePaymentIn(RequestBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: str = Field(min_length=1, max_length=255)
    amount: AmountIn
    currency: Currency
    gateway: str | None = Field(default=None, min_length=1, max_length=32)
    payment_method: str | None = Field(default=None, min_length=1, max_length=50)
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    user_id: Reference | None = None
    listing_id: Reference | None = None
    seller_id: Reference | None = None
    customer_email: EmailStr | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    return_url: Url | None = None
    callback_url: Url | None = None
    metadata: dict[Annotated[str, Field(min_length=1, max_length=40)], MetadataValue] | None = (
        Field(default=None, max_length=50)
    )
    expires_in: int | None = Field(
        default=None,
        ge=60,
        le=7 * 24 * 3600,
        description="Seconds until a pending payment expires.",
    )
    idempotency_key: str | None = Field(
        default=None,
        description="Alternative to the Idempotency-Key header (the shop document's field); "
        "1 to 255 printable ASCII characters.",
    )


class CaptureIn(RequestBody):
    amount: AmountIn | None = Field(default=None, description="Omit to capture everything.")


class VoidIn(RequestBody):
    reason: str | None = Field(default=None, max_length=500)


class RefundIn(RequestBody):
    amount: AmountIn | None = Field(default=None, description="Omit to refund all that is left.")
    reason: str | None = Field(default=None, max_length=500)
    external: bool = Field(
        default=False,
        description="The money was already given back outside payrelay (e.g. a bank transfer "
        "for a gateway without refunds): record it, send nothing to the gateway.",
    )


AmountOut = Annotated[str, Field(examples=["150000", "1250.50"])]


class EscrowOut(BaseModel):
    """A marketplace payment's split: amount + commission + refunded_amount = captured_amount."""

    status: EscrowStatus = Field(
        description="held (until released; nothing is releasable before capture), released "
        "(paid out), refunded (all given back before release, or the seller owes some back "
        "after it), cancelled (the payment ended before capture)."
    )
    amount: AmountOut = Field(description="The seller's share now.")
    commission: AmountOut = Field(description="The marketplace's share now.")
    refunded_amount: AmountOut = Field(description="Refunded to the customer, in total.")
    seller_id: str
    release_after: datetime | None = Field(
        description="Capture time plus the merchant's hold period; null before capture."
    )
    released_at: datetime | None
    released_amount: AmountOut | None = Field(description="Paid out to the seller at release.")
    seller_debt: AmountOut = Field(
        description="released_amount minus the seller's share now: refunded after release, to "
        "recover from the seller."
    )


class PaymentErrorOut(BaseModel):
    code: str
    message: str
    gateway_code: str | None = None


class PaymentOut(BaseModel):
    id: uuid.UUID
    order_id: str
    order_reference: str
    status: PaymentStatus
    gateway: str
    payment_method: str | None
    capture_method: CaptureMethod
    amount: AmountOut
    currency: str
    authorized_amount: AmountOut
    captured_amount: AmountOut
    refunded_amount: AmountOut
    received_amount: AmountOut = Field(description="Received by transfer (bank-transfer gateways).")
    overpaid_amount: AmountOut = Field(description="Received beyond the amount, to give back.")
    marketplace_commission: AmountOut
    seller_amount: AmountOut
    user_id: str | None
    listing_id: str | None
    seller_id: str | None
    customer_email: str | None
    description: str | None
    gateway_status: str | None
    gateway_transaction_id: str | None
    next_action: dict[str, Any] | None
    escrow: EscrowOut | None
    error: PaymentErrorOut | None
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    authorized_at: datetime | None
    captured_at: datetime | None
    failed_at: datetime | None
    voided_at: datetime | None


class PaymentListOut(BaseModel):
    data: list[PaymentOut]
    has_more: bool
    next_cursor: str | None


class PaymentEventOut(BaseModel):
    id: int
    event_type: str
    actor: str
    data: dict[str, Any] | None
    gateway_response: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


class PaymentEventListOut(BaseModel):
    data: list[PaymentEventOut]


def money_text(amount: Decimal, currency: str) -> str:
    return format_amount(amount, currency)
