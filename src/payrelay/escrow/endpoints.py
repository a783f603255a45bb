"""The merchant's escrow API: release on delivery, holdings per seller."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from payrelay.enums import EscrowStatus
from payrelay.escrow import service as escrow_service
from payrelay.escrow.repository import EscrowFilters, Holding, SellerTotals
from payrelay.escrow.schemas import EscrowListOut, EscrowReleaseIn
from payrelay.exceptions import error_responses
from payrelay.idempotency import service as idempotency_service
from payrelay.kit.money import format_amount, is_currency
from payrelay.kit.pagination import InvalidCursor
from payrelay.payment.errors import UnsupportedCurrency
from payrelay.payment.presenter import payment_body
from payrelay.payment.schemas import PaymentOut
from payrelay.web import CurrentMerchant, State

router = APIRouter(prefix="/api/v1", tags=["escrow"])

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1 to 255 printable ASCII characters. Makes the request safe to retry: "
        "the same key replays the first answer.",
    ),
]
SellerQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
CurrencyQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")]


@router.post(
    "/payments/{payment_id}/escrow/release",
    response_model=PaymentOut,
    responses=error_responses(400, 401, 404, 409, 413, 422),
    summary="Release the seller's share now (delivery confirmed)",
)
async def release_escrow(
    payment_id: uuid.UUID,
    merchant: CurrentMerchant,
    state: State,
    body: EscrowReleaseIn | None = None,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    body = body or EscrowReleaseIn()
    key = None if idempotency_key is None else idempotency_service.validate_key(idempotency_key)
    scope = f"payments.escrow_release:{payment_id}"
    # One transaction: a refused release stores nothing under the key (as for every command),
    # a successful one stores its answer with the change.
    async with state.db.transaction() as session:
        key_id: uuid.UUID | None = None
        if key is not None:
            claimed = await idempotency_service.claim(
                session,
                merchant_id=merchant.id,
                key=key,
                method="POST",
                path=scope,
                request_fingerprint=idempotency_service.fingerprint(
                    "POST", scope, body.model_dump(mode="json")
                ),
                lease=state.settings.idempotency_lock_timeout,
                retention=idempotency_service.OPERATION_KEY_RETENTION,
            )
            if isinstance(claimed, idempotency_service.Replay):
                return JSONResponse(
                    claimed.body,
                    status_code=claimed.status_code,
                    headers={"Idempotent-Replayed": "true"},
                )
            key_id = claimed.key.id
        row = await escrow_service.release(
            session, merchant, payment_id, reason=body.reason, now=datetime.now(UTC)
        )
        answer = payment_body(row)
        if key_id is not None:
            await idempotency_service.complete(session, key_id, 200, answer)
    return JSONResponse(answer)


@router.get(
    "/escrow",
    response_model=EscrowListOut,
    responses=error_responses(400, 401, 404, 422),
    summary="Escrow holdings, newest first, with totals per seller and currency",
)
async def list_escrow(
    merchant: CurrentMerchant,
    state: State,
    seller_id: SellerQuery = None,
    status: EscrowStatus | None = None,
    currency: CurrencyQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    if currency is not None:
        currency = currency.upper()
        if not is_currency(currency):
            raise UnsupportedCurrency(
                f"{currency!r} is not an ISO 4217 currency with a minor unit",
                details={"currency": currency},
            )
    filters = EscrowFilters(seller_id=seller_id, status=status, currency=currency)
    async with state.db.session() as session:
        holdings, totals = await escrow_service.list_holdings(
            session, merchant.id, filters, _decode_cursor(cursor), limit + 1
        )
    page = holdings[:limit]
    has_more = len(holdings) > limit
    last = page[-1].escrow if has_more else None
    return JSONResponse(
        {
            "data": [_holding_body(holding) for holding in page],
            "has_more": has_more,
            "next_cursor": None if last is None else _encode_cursor(last.created_at, last.id),
            "totals": [_totals_body(totals_row) for totals_row in totals],
        }
    )


def _holding_body(holding: Holding) -> dict[str, Any]:
    escrow = holding.escrow
    currency = escrow.currency

    def money(value: Any) -> str:
        return format_amount(value, currency)

    return {
        "payment_id": str(holding.payment_id),
        "order_id": holding.order_id,
        "seller_id": escrow.seller_id,
        "listing_id": holding.listing_id,
        "currency": currency,
        "status": escrow.status,
        "amount": money(escrow.amount),
        "commission": money(escrow.commission_amount),
        "refunded_amount": money(escrow.refunded_amount),
        "captured_amount": money(escrow.captured_amount),
        "released_amount": None
        if escrow.released_amount is None
        else money(escrow.released_amount),
        "seller_debt": money(escrow.seller_debt),
        "release_after": _time(escrow.release_after),
        "released_at": _time(escrow.released_at),
        "created_at": _time(escrow.created_at),
        "updated_at": _time(escrow.updated_at),
    }


def _totals_body(totals: SellerTotals) -> dict[str, Any]:
    currency = totals.currency
    return {
        "seller_id": totals.seller_id,
        "currency": currency,
        "payments": totals.payments,
        "held_amount": format_amount(totals.held, currency),
        "released_amount": format_amount(totals.released, currency),
        "refunded_amount": format_amount(totals.refunded, currency),
        "commission": format_amount(totals.commission, currency),
        "seller_debt": format_amount(totals.seller_debt, currency),
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _encode_cursor(created_at: datetime, escrow_id: int) -> str:
    raw = orjson.dumps([created_at.isoformat(), escrow_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, escrow_id = orjson.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None or type(escrow_id) is not int or not 0 < escrow_id < 2**63:
            raise ValueError("not a cursor")
        return parsed, escrow_id
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidCursor("cursor is not one this API returned") from None
