"""Fixtures: a SePay emulator per test, a merchant callback receiver and a merchant whose SePay
account points at both (the emulator's webhooks go to payrelay over real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from payrelay.gateway_account import service as gateway_account_service
from tests.callback.receiver import Receiver
from tests.connectors.sepay.helpers import ACCOUNT_CONFIG, EMULATOR_OPTIONS, SepayShop
from tests.emulators import RunningEmulator


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def emulator_options() -> dict[str, str]:
    """Overridden by tests (or parametrized) that need other emulator behaviour."""
    return {}


@pytest.fixture
def account_config() -> dict[str, str]:
    return {}


@pytest.fixture
def emulator(emulator_options: dict[str, str]) -> Iterator[RunningEmulator]:
    with RunningEmulator("sepay", {**EMULATOR_OPTIONS, **emulator_options}) as running:
        yield running


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    """What the jobs use to reach gateways when a test drives them with its own clock."""
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def sepay(
    factory, db, settings, emulator, receiver, account_config
) -> AsyncIterator[SepayShop]:
    shop = await factory.merchant(callback_url=receiver.url)
    async with db.transaction() as session:
        account = await gateway_account_service.set_account(
            session,
            merchant_id=shop.id,
            code="sepay",
            config={**ACCOUNT_CONFIG, **account_config, "base_url": emulator.url},
        )
    webhook_url = f"{settings.resolved_public_url()}/webhooks/sepay/{account.id}"
    async with httpx.AsyncClient(base_url=emulator.url, timeout=30) as control:
        running = SepayShop(
            shop=shop,
            account_id=account.id,
            webhook_url=webhook_url,
            emulator_url=emulator.url,
            control=control,
            db=db,
        )
        await running.emulate(webhook_url=webhook_url)
        yield running
