"""The six scenarios of issue 7, each `async def run(context) -> ScenarioResult`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.results import ScenarioResult
from bench.scenarios import capture_refund, create, growth, replay, statistics, webhooks
from bench.stack import RunContext

Runner = Callable[[RunContext], Awaitable[ScenarioResult]]

RUNNERS: dict[str, Runner] = {
    "create": create.run,
    "replay": replay.run,
    "capture-refund": capture_refund.run,
    "webhooks": webhooks.run,
    "growth": growth.run,
    "statistics": statistics.run,
}
