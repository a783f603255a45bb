"""Scenario 1, create: `POST /api/v1/payments/create` with a new key each request, payrelay
against the reference app (same body, same server software, same database server), in turns."""

from __future__ import annotations

from bench import services
from bench.measure import warm_and_measure
from bench.monitor import Watch
from bench.profile import profile_create
from bench.results import LoadRun, ScenarioResult, median_run, ratio
from bench.stack import RunContext, Stack, open_stack
from bench.wrk import Load

TITLE = "Create: POST /api/v1/payments/create with new Idempotency-Keys"


def create_load(stack: Stack, context: RunContext, tag: str, seconds: int) -> Load:
    config = context.config
    return Load(
        mode="create",
        options={"prefix": tag},
        duration=seconds,
        connections=config.concurrency,
        threads=config.threads,
        headers={**stack.auth, "Content-Type": "application/json"},
    )


async def measure_payrelay_create(context: RunContext, stack: Stack, label: str) -> LoadRun:
    return await warm_and_measure(
        context,
        stack.base_url,
        lambda tag, seconds: create_load(stack, context, tag, seconds),
        label=label,
        system="payrelay",
        watches=stack.watches(context),
        database_url=stack.url,
    )


async def run(context: RunContext) -> ScenarioResult:
    result = ScenarioResult("create", TITLE)
    async with open_stack(context, "create") as stack:
        reference = services.start_reference(stack.url, context.workdir / "logs" / "create")
        try:
            await services.wait_ready(reference, "/healthz")
            for round_number in range(1, context.config.rounds + 1):
                result.runs.append(
                    await measure_payrelay_create(context, stack, f"payrelay #{round_number}")
                )
                result.runs.append(
                    await warm_and_measure(
                        context,
                        reference.base_url,
                        lambda tag, seconds: create_load(stack, context, tag, seconds),
                        label=f"reference #{round_number}",
                        system="reference",
                        watches={
                            "reference": Watch(reference.pid),
                            **context.database_watches(),
                        },
                        database_url=stack.url,
                    )
                )
        finally:
            await services.stop(reference)
        if context.config.profile:
            result.metrics["profile"] = await profile_create(
                context, stack, lambda tag, seconds: create_load(stack, context, tag, seconds)
            )
    payrelay = median_run([run for run in result.runs if run.system == "payrelay"])
    reference_run = median_run([run for run in result.runs if run.system == "reference"])
    result.metrics.update(
        payrelay_rps=payrelay.throughput_rps,
        reference_rps=reference_run.throughput_rps,
        throughput_ratio=ratio(payrelay.throughput_rps, reference_run.throughput_rps),
        payrelay_p99_ms=payrelay.latency_ms["p99"],
        reference_p99_ms=reference_run.latency_ms["p99"],
        p99_ratio=ratio(payrelay.latency_ms["p99"], reference_run.latency_ms["p99"]),
        payrelay_cpu_ms_per_payment=payrelay.cpu_ms_per_request,
        reference_cpu_ms_per_payment=reference_run.cpu_ms_per_request,
        errors=sum(run.error_total for run in result.runs),
    )
    result.notes.append(
        "The reference validates the same body and writes a payment and a log row in one "
        "transaction; payrelay also authenticates the API key, claims the idempotency key, "
        "checks for a duplicate charge, calls the sandbox gateway over HTTP (served by the "
        "same process) and stores the answer for replays: four short transactions (three of "
        "its own, one of the sandbox's)."
    )
    return result
