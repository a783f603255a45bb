"""Waiting for the worker: webhooks are applied asynchronously, so tests that post one wait
until the inbox has no unprocessed row for the account."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from payrelay.kit.db import Database
from payrelay.models import PaymentWebhook

DATABASE: list[Database] = []  # set by the session fixture in conftest


async def drained(account_id: int, within: float = 10) -> None:
    database = DATABASE[0]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with database.session() as session:
            waiting = await session.scalar(
                select(func.count()).where(
                    PaymentWebhook.gateway_account_id == account_id,
                    PaymentWebhook.status == "received",
                )
            )
        if not waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the worker did not process account {account_id}'s webhooks")
