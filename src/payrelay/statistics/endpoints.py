"""The merchant's statistics API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from payrelay.exceptions import error_responses
from payrelay.statistics import service as statistics_service
from payrelay.statistics.presenter import report_body
from payrelay.statistics.schemas import DailyStatisticsOut
from payrelay.web import CurrentMerchant, State

router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"])


@router.get(
    "/daily",
    response_model=DailyStatisticsOut,
    responses=error_responses(401, 422),
    summary="Daily statistics per gateway and currency, with totals per currency",
)
async def daily_statistics(
    merchant: CurrentMerchant,
    state: State,
    first: Annotated[
        date | None,
        Query(
            alias="from",
            description="First day (YYYY-MM-DD) in the merchant's reporting time zone; "
            "default: 29 days before `to`.",
        ),
    ] = None,
    last: Annotated[
        date | None,
        Query(alias="to", description="Last day, included; default: today."),
    ] = None,
    gateway: Annotated[str | None, Query(max_length=32, description="A gateway code.")] = None,
    currency: Annotated[
        str | None, Query(min_length=3, max_length=3, description="An ISO 4217 code.")
    ] = None,
) -> JSONResponse:
    """At most 366 days at once; a reversed or longer range is a 422 `invalid_date_range`."""
    async with state.db.session() as session:
        report = await statistics_service.daily_report(
            session,
            merchant,
            now=datetime.now(UTC),
            first=first,
            last=last,
            gateway=gateway,
            currency=currency,
        )
    return JSONResponse(report_body(report))
