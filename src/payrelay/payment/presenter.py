"""The payment object as the API returns it (and as callbacks will carry it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from payrelay.kit.money import format_amount
from payrelay.models import PaymentLog
from payrelay.payment.repository import PaymentRow

ZERO = Decimal(0)


def payment_body(row: PaymentRow) -> dict[str, Any]:
    request, transaction, escrow = row.request, row.transaction, row.escrow
    currency = transaction.currency

    def amount(value: Any) -> str:
        return format_amount(value, currency)

    error = None
    if transaction.error_details:
        error = {
            "code": str(transaction.error_details.get("code", "error")),
            "message": str(transaction.error_details.get("message", "")),
            "gateway_code": transaction.error_details.get("gateway_code"),
        }
    return {
        "id": str(request.id),
        "order_id": request.order_id,
        "order_reference": transaction.order_reference,
        "status": transaction.status,
        "gateway": row.gateway,
        "payment_method": transaction.payment_method,
        "capture_method": transaction.capture_method,
        "amount": amount(transaction.amount),
        "currency": currency,
        "authorized_amount": amount(transaction.authorized_amount),
        "captured_amount": amount(transaction.captured_amount),
        "refunded_amount": amount(transaction.refunded_amount),
        "received_amount": amount(transaction.received_amount),
        "overpaid_amount": amount(
            max(transaction.received_amount - transaction.amount, Decimal(0))
        ),
        "marketplace_commission": amount(transaction.marketplace_commission),
        "seller_amount": amount(transaction.seller_amount),
        "user_id": transaction.user_id,
        "listing_id": transaction.listing_id,
        "seller_id": transaction.seller_id,
        "customer_email": transaction.customer_email,
        "description": transaction.description,
        "gateway_status": transaction.gateway_status,
        "gateway_transaction_id": transaction.gateway_transaction_id,
        "next_action": transaction.next_action,
        "escrow": None
        if escrow is None
        else {
            "status": escrow.status,
            "amount": amount(escrow.amount),
            "commission": amount(escrow.commission_amount),
            "refunded_amount": amount(escrow.refunded_amount),
            "seller_id": escrow.seller_id,
            "release_after": _time(escrow.release_after),
            "released_at": _time(escrow.released_at),
            "released_amount": None
            if escrow.released_amount is None
            else amount(escrow.released_amount),
            "seller_debt": amount(escrow.seller_debt),
        },
        "error": error,
        "metadata": request.metadata_,
        "created_at": _time(request.created_at),
        "updated_at": _time(max(request.updated_at, transaction.updated_at)),
        "expires_at": _time(request.expires_at),
        "authorized_at": _time(transaction.authorized_at),
        "captured_at": _time(transaction.captured_at),
        "failed_at": _time(transaction.failed_at),
        "voided_at": _time(transaction.voided_at),
    }


def event_body(log: PaymentLog) -> dict[str, Any]:
    return {
        "id": log.id,
        "event_type": log.event_type,
        "actor": log.actor,
        "data": log.event_data,
        "gateway_response": log.gateway_response,
        "request_id": log.request_id,
        "created_at": _time(log.created_at),
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
