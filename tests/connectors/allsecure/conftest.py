"""Fixtures: an AllSecure emulator per test (options overridable), the merchant's callback
receiver, and a merchant whose AllSecure account points at the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.callback.receiver import Receiver
from tests.connectors.allsecure.helpers import AllSecureShop, allsecure_shop
from tests.emulators import RunningEmulator


@pytest.fixture
def emulator_options() -> dict[str, str]:
    """Overridden by tests that need other emulator behaviour."""
    return {}


@pytest.fixture
def emulator(emulator_options: dict[str, str]) -> Iterator[RunningEmulator]:
    with RunningEmulator("allsecure", emulator_options) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
async def gateway_http() -> AsyncIterator[httpx.AsyncClient]:
    """What the jobs use to reach gateways when a test drives them with its own clock."""
    async with httpx.AsyncClient(timeout=3) as client:
        yield client


@pytest.fixture
async def allsecure(factory, emulator, receiver) -> AllSecureShop:
    return await allsecure_shop(factory, emulator.url, callback_url=receiver.url)
