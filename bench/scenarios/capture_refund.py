"""Scenario 3, capture and refund on existing payments.

Payments are created with manual capture and paid on the sandbox checkout; the sandbox's
notification makes them `authorized`. wrk then captures each one once (a payment can be captured
only once, so the pool is sized from a calibration: the harness captures a first batch itself and
times it), and refunds 1 000 VND at a time from the captured ones, round robin (partial refunds
repeat, so that pool never runs out).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from bench.console import say
from bench.measure import measure, run_tag, settle
from bench.payments import bounded, checkout, create_payments, wait_for_count, wait_until_quiet
from bench.results import LoadRun, ScenarioResult
from bench.stack import RunContext, Stack, open_stack
from bench.wrk import Load, run_wrk

TITLE = "Capture and refund on existing authorized payments"
AUTHORIZED = (
    "SELECT count(*) FROM payment_transactions "
    "WHERE status = 'authorized' AND payment_request_id = ANY($1::uuid[])"
)
CAPTURED = (
    "SELECT payment_request_id::text FROM payment_transactions "
    "WHERE status IN ('captured', 'partially_refunded') ORDER BY id"
)
REFUND_AMOUNT = "1000"
MARGIN = 1.5  # pool size over the calibrated rate times the duration


async def authorized_payments(stack: Stack, count: int, concurrency: int) -> list[str]:
    tag = run_tag("a")
    keys = [f"{tag}-{index}" for index in range(count)]
    payments = await create_payments(stack, keys, capture_method="manual", concurrency=concurrency)
    ids = [str(payment["id"]) for payment in payments]
    await checkout(stack, ids, "succeed", concurrency=concurrency)
    await wait_for_count(stack, AUTHORIZED, [ids], len(ids), within=60 + count / 10)
    return ids


async def calibrate(stack: Stack, ids: list[str], concurrency: int) -> float:
    """Captures per second the harness gets through `ids` itself, to size the wrk pools."""
    tag = run_tag("k")
    started = time.monotonic()

    async def capture(payment_id: str) -> int:
        headers = {**stack.auth, "Idempotency-Key": f"{tag}-{payment_id}"}
        response = await stack.client.post_json(
            f"/api/v1/payments/{payment_id}/capture", {}, headers
        )
        return response.status

    statuses = await bounded(ids, capture, concurrency)
    elapsed = time.monotonic() - started
    failed = sum(1 for status in statuses if status >= 300)
    if failed:
        say(f"capture-refund: {failed} calibration captures failed")
    return len(ids) / max(elapsed, 1e-9)


def write_ids(path: Path, ids: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(ids) + "\n")
    return str(path)


def operation_load(
    context: RunContext, stack: Stack, mode: str, ids_file: str, seconds: int
) -> Load:
    options = {"prefix": run_tag(mode[0]), "ids": ids_file}
    if mode == "refund":
        options["amount"] = REFUND_AMOUNT
    return Load(
        mode=mode,
        options=options,
        duration=seconds,
        connections=context.config.concurrency,
        threads=context.config.threads,
        headers={**stack.auth, "Content-Type": "application/json"},
    )


async def measure_operation(
    context: RunContext, stack: Stack, mode: str, warm_ids: list[str], ids: list[str]
) -> LoadRun:
    """A warm-up on `warm_ids`, then the measured run on `ids` (capture takes each id once)."""
    config = context.config
    files = context.workdir / "ids"
    if config.warmup > 0:
        warm_file = write_ids(files / f"{mode}-warm.ids", warm_ids)
        await settle(stack.url)
        await run_wrk(
            context.wrk,
            stack.base_url,
            operation_load(context, stack, mode, warm_file, config.warmup),
        )
    measured_file = write_ids(files / f"{mode}.ids", ids)
    return await measure(
        context,
        stack.base_url,
        operation_load(context, stack, mode, measured_file, config.duration),
        label=mode,
        system="payrelay",
        watches=stack.watches(context),
        database_url=stack.url,
    )


async def capture_pools(context: RunContext, stack: Stack) -> tuple[float, list[str], list[str]]:
    """The calibrated capture rate, and authorized payments for the warm-up and the run."""
    config = context.config
    say("capture-refund: preparing authorized payments to calibrate on")
    first = await authorized_payments(stack, config.concurrency * 4, config.concurrency)
    await wait_until_quiet(stack)
    rate = await calibrate(stack, first, config.concurrency)
    warm_count = math.ceil(rate * config.warmup * MARGIN) + config.concurrency
    measured_count = math.ceil(rate * config.duration * MARGIN) + config.concurrency
    say(
        f"capture-refund: about {rate:.0f} captures/s: preparing "
        f"{warm_count + measured_count} more authorized payments"
    )
    pool = await authorized_payments(stack, warm_count + measured_count, config.concurrency)
    await wait_until_quiet(stack)
    return rate, pool[:warm_count], pool[warm_count:]


async def run(context: RunContext) -> ScenarioResult:
    result = ScenarioResult("capture-refund", TITLE)
    async with open_stack(context, "capture-refund") as stack:
        rate, warm_pool, pool = await capture_pools(context, stack)
        capture_run = await measure_operation(context, stack, "capture", warm_pool, pool)
        await wait_until_quiet(stack)
        captured = [str(row[0]) for row in await stack.db.fetch(CAPTURED)]
        refund_run = await measure_operation(context, stack, "refund", captured, captured)
    result.runs += [capture_run, refund_run]
    result.metrics.update(
        calibrated_captures_per_s=round(rate, 1),
        capture_pool=len(pool),
        capture_rps=capture_run.throughput_rps,
        capture_p99_ms=capture_run.latency_ms["p99"],
        refund_rps=refund_run.throughput_rps,
        refund_p99_ms=refund_run.latency_ms["p99"],
        refund_pool=len(captured),
        errors=capture_run.error_total + refund_run.error_total,
    )
    return result
