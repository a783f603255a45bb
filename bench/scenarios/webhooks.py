"""Scenario 4, webhook to callback: signed sandbox webhooks at a fixed rate, one worker.

Payments are created and paid on the sandbox checkout with the `timeout` outcome (the sandbox
takes the money and its notification is lost). The harness then sends those notifications
itself, signed as the sandbox signs them, at a fixed rate to `/webhooks/sandbox/{account}`, and
its callback receiver records when each `payment.captured` callback arrives. Latency is from the
webhook's acceptance (payrelay's 2xx answer) to the callback's arrival, per payment. The backlog
(webhooks not yet applied plus callbacks not yet delivered) is sampled twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bench.console import say
from bench.http import HttpClient, HttpError
from bench.measure import latency_summary, run_tag
from bench.monitor import ResourceMonitor, Usage, Watch
from bench.payments import (
    PENDING_CALLBACKS,
    PENDING_WEBHOOKS,
    checkout,
    create_payments,
    wait_until_quiet,
)
from bench.profile import profile_process
from bench.results import LoadRun, ScenarioResult
from bench.stack import RunContext, Stack, open_stack
from bench.waits import WaitSampler

TITLE = "Webhook to callback: sandbox webhooks at a fixed rate, one worker"
EVENT = "payment.captured"
DRAIN_SECONDS = 30.0
SAMPLE_SECONDS = 0.5


SENDER_CONNECTIONS = 256  # enough for the rate times a slow answer: the loop stays open


@dataclass(frozen=True, slots=True)
class Sent:
    payment_id: str
    due_at: float  # when the schedule said to send it
    sent_at: float  # when it was written to a connection (later if all were busy)
    answered_at: float
    status: int  # 0: no answer (connection error or timeout)


def notification(payment: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The sandbox's signed notification for `payment` (see payrelay.sandbox.service)."""
    timestamp = int(time.time())
    data = {**payment, "checkout_url": None}
    body = json.dumps(
        {
            "id": "evt_" + secrets.token_hex(12),
            "type": f"payment.{data['status']}",
            "created": timestamp,
            "data": data,
        },
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/json",
        "Sandbox-Signature": f"t={timestamp},v1={signature.hexdigest()}",
    }


async def send_at_rate(
    stack: Stack, sender: HttpClient, payments: list[dict[str, Any]], rate: float
) -> list[Sent]:
    """One webhook every 1/rate seconds, on schedule whatever the answers' latency."""
    path = f"/webhooks/sandbox/{stack.account_id}"

    async def send(payment: dict[str, Any]) -> Sent:
        body, headers = notification(payment, stack.webhook_secret)
        due_at = time.monotonic()
        try:
            response = await sender.request("POST", path, headers=headers, body=body)
            status, sent_at = response.status, response.sent_at
        except (OSError, TimeoutError, EOFError, HttpError):
            status, sent_at = 0, due_at
        return Sent(str(payment["payment_reference"]), due_at, sent_at, time.monotonic(), status)

    started = time.monotonic()
    tasks = []
    for index, payment in enumerate(payments):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(payment)))
    return list(await asyncio.gather(*tasks))


async def backlog(stack: Stack) -> int:
    return int(await stack.db.fetchval(PENDING_WEBHOOKS)) + int(
        await stack.db.fetchval(PENDING_CALLBACKS)
    )


async def sample_backlog(stack: Stack, samples: list[tuple[float, int]], started: float) -> None:
    while True:
        samples.append((round(time.monotonic() - started, 2), await backlog(stack)))
        await asyncio.sleep(SAMPLE_SECONDS)


def dispatch_rate(sent: list[Sent]) -> float | None:
    """Webhooks written per second, from the first to the last (below the rate when every
    connection of the sender was waiting for an answer)."""
    if len(sent) < 2:
        return None
    span = max(item.sent_at for item in sent) - min(item.sent_at for item in sent)
    return round((len(sent) - 1) / span, 1) if span > 0 else None


def slope(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares growth of the backlog in events per second."""
    if len(samples) < 3:
        return None
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_b = sum(b for _, b in samples) / len(samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return None
    return round(sum((t - mean_t) * (b - mean_b) for t, b in samples) / spread, 3)


async def drain(context: RunContext, ids: set[str]) -> float | None:
    """Seconds until every callback for `ids` arrived; None if some never did."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_SECONDS:
        if all((payment_id, EVENT) in context.receiver.first for payment_id in ids):
            return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.1)
    return None


async def prepare(context: RunContext, stack: Stack, count: int) -> list[dict[str, Any]]:
    concurrency = context.config.concurrency
    tag = run_tag("h")
    keys = [f"{tag}-{index}" for index in range(count)]
    say(f"webhooks: creating {count} payments and paying them without notification")
    payments = await create_payments(
        stack, keys, capture_method="automatic", concurrency=concurrency
    )
    paid = await checkout(
        stack, [str(payment["id"]) for payment in payments], "timeout", concurrency=concurrency
    )
    await wait_until_quiet(stack)
    return paid


@dataclass
class Measured:
    sent: list[Sent]
    seconds: float  # from the first send to the last answer
    samples: list[tuple[float, int]]
    end_backlog: int
    drain_seconds: float | None
    processes: dict[str, Usage]
    waits: dict[str, Any]


async def measure_rate(
    context: RunContext, stack: Stack, sender: HttpClient, payments: list[dict[str, Any]]
) -> Measured:
    samples: list[tuple[float, int]] = []
    watches = {**stack.watches(context), "harness": Watch(os.getpid(), alone=True)}
    started = time.monotonic()
    sampler = asyncio.create_task(sample_backlog(stack, samples, started))
    try:
        async with WaitSampler(stack.url) as waits:
            with ResourceMonitor(watches) as monitor:
                sent = await send_at_rate(stack, sender, payments, context.config.webhook_rate)
                seconds = time.monotonic() - started
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    end_backlog = await backlog(stack)
    drained = await drain(context, {item.payment_id for item in sent})
    return Measured(sent, seconds, samples, end_backlog, drained, monitor.usage, waits.summary())


def record(context: RunContext, measured: Measured, result: ScenarioResult) -> None:
    rate = context.config.webhook_rate
    sent = measured.sent
    accepted = [item for item in sent if 200 <= item.status < 300]
    arrivals = context.receiver.first
    delivered = [item for item in accepted if (item.payment_id, EVENT) in arrivals]
    latencies = [1000 * (arrivals[(i.payment_id, EVENT)] - i.answered_at) for i in delivered]
    from_send = [1000 * (arrivals[(i.payment_id, EVENT)] - i.sent_at) for i in delivered]
    summary = latency_summary(latencies)
    server_cpu = sum(
        usage.cpu_seconds for name, usage in measured.processes.items() if name != "harness"
    )
    accepted_rate = round(len(accepted) / max(measured.seconds, 1e-9), 1)
    result.runs.append(
        LoadRun(
            label=f"webhooks at {rate:.0f}/s",
            system="payrelay",
            duration_s=round(measured.seconds, 3),
            concurrency=0,
            requests=len(sent),
            throughput_rps=accepted_rate,
            latency_ms=summary,
            errors={"status": len(sent) - len(accepted)},
            error_total=len(sent) - len(accepted),
            processes=measured.processes,
            cpu_ms_per_request=round(1000 * server_cpu / len(accepted), 2) if accepted else None,
            database_waits=measured.waits,
            notes=["latency is webhook accepted -> callback received"],
        )
    )
    result.metrics.update(
        rate=rate,
        sent=len(sent),
        accepted=len(accepted),
        dispatch_rate=dispatch_rate(sent),
        accepted_rate=accepted_rate,
        webhook_answer_ms=latency_summary([1000 * (i.answered_at - i.sent_at) for i in sent]),
        sender_wait_ms=latency_summary([1000 * (i.sent_at - i.due_at) for i in sent]),
        callback_latency_ms=summary,
        callback_latency_from_send_ms=latency_summary(from_send),
        callbacks_missing=len(accepted) - len(delivered),
        backlog_at_end=measured.end_backlog,
        backlog_max=max((value for _, value in measured.samples), default=0),
        backlog_slope_per_s=slope(measured.samples),
        backlog_samples=measured.samples,
        drain_seconds=measured.drain_seconds,
    )


async def run(context: RunContext) -> ScenarioResult:
    config = context.config
    result = ScenarioResult("webhooks", TITLE)
    warm_count = math.ceil(config.webhook_rate * config.warmup)
    measured_count = math.ceil(config.webhook_rate * config.duration)
    async with open_stack(context, "webhooks") as stack:
        profiled_count = measured_count if config.profile else 0
        paid = await prepare(context, stack, warm_count + measured_count + profiled_count)
        measured_part = paid[warm_count : warm_count + measured_count]
        sender = HttpClient(stack.base_url, max_connections=SENDER_CONNECTIONS)
        try:
            if warm_count:
                warm = await send_at_rate(stack, sender, paid[:warm_count], config.webhook_rate)
                await drain(context, {sent.payment_id for sent in warm})
                await wait_until_quiet(stack)
            measured = await measure_rate(context, stack, sender, measured_part)
            if profiled_count:
                await wait_until_quiet(stack)
                result.metrics["profile"] = await profile_worker(
                    context, stack, sender, paid[warm_count + measured_count :]
                )
        finally:
            await sender.close()
    record(context, measured, result)
    return result


async def profile_worker(
    context: RunContext, stack: Stack, sender: HttpClient, payments: list[dict[str, Any]]
) -> dict[str, Any]:
    """An extra run at the same rate with py-spy on the worker (the measured run stays
    unprofiled)."""
    rate = context.config.webhook_rate

    async def load() -> float:
        started = time.monotonic()
        sent = await send_at_rate(stack, sender, payments, rate)
        return len(sent) / max(time.monotonic() - started, 1e-9)

    return await profile_process(
        context,
        stack.worker.pid,
        "payrelay-worker",
        "webhooks",
        len(payments) / rate,
        load,
        "sent webhooks",
    )
