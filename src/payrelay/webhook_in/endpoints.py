"""`POST /webhooks/{code}/{account_id}`: where gateways report what happened.

The answer only says the webhook was received: it is verified, stored once per gateway event id
and acknowledged in the gateway's expected form, then the worker applies it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from payrelay import connectors
from payrelay.connectors.base import IncomingWebhook, WebhookAck, WebhookRejected
from payrelay.exceptions import NotFound
from payrelay.gateway_account import service as gateway_account_service
from payrelay.logging import get_logger
from payrelay.web import State
from payrelay.webhook_in import metrics
from payrelay.webhook_in import service as webhook_service

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)


class UnknownWebhookEndpoint(NotFound):
    code = "unknown_webhook_endpoint"


def _response(ack: WebhookAck) -> Response:
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.media_type)


@router.post("/webhooks/{code}/{account_id}")
async def receive_webhook(code: str, account_id: int, request: Request, state: State) -> Response:
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    now = datetime.now(UTC)
    async with state.db.session() as session:
        account = await gateway_account_service.get_account_by_id(session, account_id)
    if account is None or account.code != code or not connectors.is_registered(code):
        raise UnknownWebhookEndpoint("no gateway account at this webhook address")
    connector = connectors.build_connector(
        code,
        gateway_account_service.account_context(account, state.settings.resolved_public_url()),
        state.http,
    )
    webhook = IncomingWebhook(headers=headers, body=body, received_at=now)
    try:
        await connector.verify_webhook(webhook)
        events = connector.parse_webhook(webhook)
    except WebhookRejected as exc:
        log.warning("webhook.rejected", gateway=code, account_id=account_id, reason=str(exc))
        async with state.db.transaction() as session:
            await webhook_service.store_rejected(session, account, headers, body, str(exc), now)
        metrics.record_intake(code, "rejected")
        return _response(connector.reject(str(exc)))
    async with state.db.transaction() as session:
        for event in events:
            stored = await webhook_service.store(session, account, headers, body, event, now)
            metrics.record_intake(code, "accepted" if stored is not None else "duplicate")
    return _response(connector.acknowledge(events))
