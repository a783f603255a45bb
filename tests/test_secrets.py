"""Keys and secrets never reach logs, the audit trail or API answers."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from sqlalchemy import select

from payrelay.models import PaymentGateway, PaymentLog


class Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def collected_logs():
    root = logging.getLogger()
    # payrelay's own handler (pytest adds its own handlers to the root logger too).
    ours = next(
        handler.formatter
        for handler in root.handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    )
    handler = Collect(ours)
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


async def test_secrets_are_never_logged_stored_in_the_audit_trail_or_returned(
    factory, db, collected_logs
):
    shop = await factory.merchant()
    async with db.session() as session:
        account = await session.get(PaymentGateway, shop.sandbox_account_id)
        assert account is not None
        gateway_secrets = [str(value) for value in account.config.values()]
    secrets = [shop.api_key, shop.callback_secret, *gateway_secrets]

    payment = await shop.authorized()
    captured = await shop.command(payment["id"], "capture", key="capture-1")
    refunded = await shop.command(payment["id"], "refund", {"amount": "1000"})
    events = await shop.events(payment["id"])
    answers = json.dumps([payment, captured.json(), refunded.json(), events])

    async with db.session() as session:
        rows = (
            await session.execute(select(PaymentLog).where(PaymentLog.merchant_id == shop.id))
        ).scalars()
        audit = json.dumps([[row.event_data, row.gateway_response] for row in rows], default=str)

    logs = "\n".join(collected_logs)
    assert '"event": "http.request"' in logs  # the JSON logs were captured
    for secret in secrets:
        assert secret not in logs
        assert secret not in audit
        assert secret not in answers
