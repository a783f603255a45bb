"""The escrow API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from payrelay.enums import EscrowStatus
from payrelay.payment.schemas import AmountOut, RequestBody


class EscrowReleaseIn(RequestBody):
    reason: str | None = Field(
        default=None, max_length=500, description="Kept in the audit trail (e.g. delivery note)."
    )


class EscrowItemOut(BaseModel):
    payment_id: uuid.UUID
    order_id: str
    seller_id: str
    listing_id: str | None
    currency: str
    status: EscrowStatus
    amount: AmountOut = Field(description="The seller's share now.")
    commission: AmountOut = Field(description="The marketplace's share now.")
    refunded_amount: AmountOut = Field(description="Refunded to the customer, in total.")
    captured_amount: AmountOut = Field(description="amount + commission + refunded_amount.")
    released_amount: AmountOut | None = Field(description="Paid out to the seller at release.")
    seller_debt: AmountOut = Field(
        description="Refunded after release out of the seller's share: to recover from them."
    )
    release_after: datetime | None
    released_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SellerTotalsOut(BaseModel):
    seller_id: str
    currency: str
    payments: int
    held_amount: AmountOut = Field(description="Held now, not yet paid out.")
    released_amount: AmountOut = Field(description="Paid out at release.")
    refunded_amount: AmountOut
    commission: AmountOut
    seller_debt: AmountOut


class EscrowListOut(BaseModel):
    data: list[EscrowItemOut]
    has_more: bool
    next_cursor: str | None
    totals: list[SellerTotalsOut] = Field(
        description="Per seller and currency, over everything the filters select (not only "
        "this page); amounts of different currencies are never added."
    )
