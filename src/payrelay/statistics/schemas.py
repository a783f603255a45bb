"""The statistics API's documents (for OpenAPI; `presenter.py` builds them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

AmountOut = Annotated[
    str,
    Field(
        description="Decimal string in the row's currency, exactly its minor-unit digits.",
        examples=["150000", "1250.50"],
    ),
]


class StatisticsCounters(BaseModel):
    total_requests: int = Field(description="Payment attempts created.")
    successful_payments: int = Field(description="Payments with money captured.")
    failed_payments: int = Field(description="Payments declined by the gateway.")
    success_rate: str | None = Field(
        description="successful_payments per 100 total_requests, two decimals; null without "
        "requests.",
        examples=["66.67"],
    )
    total_amount: AmountOut = Field(description="Amount asked for by every attempt.")
    successful_amount: AmountOut = Field(description="Amount captured (revenue).")
    refunded_amount: AmountOut = Field(description="Amount refunded since.")
    commission_amount: AmountOut = Field(
        description="Marketplace commission of the money kept (captured minus refunded)."
    )
    average_processing_time: int | None = Field(
        description="Seconds from creation to the gateway's answer (authorized, captured or "
        "declined), rounded down; null while none was answered."
    )


class StatisticsDay(StatisticsCounters):
    date: dt.date = Field(description="Creation day in the merchant's reporting time zone.")
    gateway: str
    currency: str


class StatisticsTotal(StatisticsCounters):
    currency: str


class DailyStatisticsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timezone: str = Field(description="The merchant's reporting time zone (IANA).")
    from_: dt.date = Field(alias="from")
    to: dt.date
    days: list[StatisticsDay] = Field(
        description="Newest day first; days without payments omitted."
    )
    totals: list[StatisticsTotal] = Field(description="One per currency: never summed across.")
