"""Scenario 2, idempotent replay: the create requests again with keys already used. payrelay
answers each from the stored response without creating anything or calling the gateway."""

from __future__ import annotations

from bench.console import say
from bench.measure import run_tag, warm_and_measure
from bench.payments import create_payments
from bench.results import ScenarioResult, median_run
from bench.stack import RunContext, open_stack
from bench.wrk import Load

TITLE = "Idempotent replay: the same creates with keys already used"
COUNT_PAYMENTS = "SELECT count(*) FROM payment_requests"


async def run(context: RunContext) -> ScenarioResult:
    config = context.config
    result = ScenarioResult("replay", TITLE)
    async with open_stack(context, "replay") as stack:
        prefix = run_tag("r")
        keys = [f"{prefix}-{index}" for index in range(config.replay_keys)]
        say(f"replay: creating {len(keys)} payments to replay")
        await create_payments(
            stack, keys, capture_method="automatic", concurrency=config.concurrency
        )
        before = int(await stack.db.fetchval(COUNT_PAYMENTS))

        def load_for(tag: str, seconds: int) -> Load:
            return Load(
                mode="replay",
                options={"prefix": prefix, "keys": str(len(keys))},
                duration=seconds,
                connections=config.concurrency,
                threads=config.threads,
                headers={**stack.auth, "Content-Type": "application/json"},
            )

        for round_number in range(1, config.rounds + 1):
            result.runs.append(
                await warm_and_measure(
                    context,
                    stack.base_url,
                    load_for,
                    label=f"replay #{round_number}",
                    system="payrelay",
                    watches=stack.watches(context),
                    database_url=stack.url,
                )
            )
        created = int(await stack.db.fetchval(COUNT_PAYMENTS)) - before
    median = median_run(result.runs)
    result.metrics.update(
        replay_rps=median.throughput_rps,
        replay_p99_ms=median.latency_ms["p99"],
        replay_cpu_ms_per_request=median.cpu_ms_per_request,
        keys=len(keys),
        payments_created_by_replays=created,
        errors=sum(run.error_total for run in result.runs),
    )
    if created:
        result.notes.append(f"{created} replays created a payment: replay is broken")
    return result
