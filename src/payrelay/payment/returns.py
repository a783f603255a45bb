"""`GET /return/{code}/{account_id}/{payment_id}`: where a gateway sends the customer back.

Untrusted for money: nothing the browser brings moves a payment. If the gateway waits for us to
complete an approved payment, payrelay asks the gateway to (an authoritative call); then the
customer goes on to the merchant's `return_url`, told the payment's status.
"""

from __future__ import annotations

import html
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrelay.exceptions import NotFound
from payrelay.logging import get_logger
from payrelay.payment import completion
from payrelay.payment.repository import PaymentRepository
from payrelay.web import State

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/return/{code}/{account_id}/{payment_id}")
async def customer_returns(
    code: str, account_id: int, payment_id: uuid.UUID, state: State
) -> Response:
    async with state.db.session() as session:
        repository = PaymentRepository(session)
        transaction_id = await repository.find_transaction_id(
            account_id, payment_id=payment_id, gateway_transaction_id=None
        )
        row = await repository.get_by_transaction(transaction_id) if transaction_id else None
    if row is None or row.gateway != code:
        raise NotFound("no such payment")
    status = row.transaction.status
    if status == "pending" and completion.needs_completion(code):
        try:
            completed = await completion.complete(
                state.db, state.http, state.settings, row.transaction.id
            )
        except Exception:  # the customer still gets a page; the janitor finishes the job
            log.exception("return.completion_failed", payment_id=str(payment_id))
            completed = None
        status = completed.value if completed else status
    if row.request.return_url:
        return RedirectResponse(
            _with_query(row.request.return_url, payment_id=str(payment_id), status=status),
            status_code=303,
        )
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>Payment</title>"
        f"<p>Payment {html.escape(str(payment_id))}: <strong>{html.escape(status)}</strong>.</p>"
        "<p>You can close this page.</p>"
    )


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))
