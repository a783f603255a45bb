"""A warmed-up, measured wrk run with every process's CPU and memory watched."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable

from bench.console import say
from bench.monitor import ResourceMonitor, Usage, Watch
from bench.results import LoadRun
from bench.stack import RunContext
from bench.waits import WaitSampler, wait_idle
from bench.wrk import Load, WrkResult, run_wrk

LoadFor = Callable[[str, int], Load]  # (run tag, seconds) -> the load to send


def run_tag(label: str) -> str:
    """A key prefix no other run of this database used."""
    return f"{label}{secrets.token_hex(3)}"


async def warm_and_measure(
    context: RunContext,
    base_url: str,
    load_for: LoadFor,
    *,
    label: str,
    system: str,
    watches: dict[str, Watch],
    database_url: str,
) -> LoadRun:
    config = context.config
    if config.warmup > 0:
        await settle(database_url)
        await run_wrk(context.wrk, base_url, load_for(run_tag("w"), config.warmup))
    load = load_for(run_tag("m"), config.duration)
    return await measure(
        context,
        base_url,
        load,
        label=label,
        system=system,
        watches=watches,
        database_url=database_url,
    )


async def measure(
    context: RunContext,
    base_url: str,
    load: Load,
    *,
    label: str,
    system: str,
    watches: dict[str, Watch],
    database_url: str,
) -> LoadRun:
    settled = await settle(database_url)
    async with WaitSampler(database_url) as waits:
        with ResourceMonitor(watches) as monitor:
            result = await run_wrk(context.wrk, base_url, load)
    run = load_run(label, system, result, load, monitor.usage)
    run.database_waits = waits.summary()
    if not settled:
        run.notes.append("requests of the previous run were still at work when this one began")
    return run


async def settle(database_url: str) -> bool:
    settled = await wait_idle(database_url)
    if not settled:
        say("the database is still busy with an earlier run's requests; going on")
    return settled


def load_run(
    label: str, system: str, result: WrkResult, load: Load, usage: dict[str, Usage]
) -> LoadRun:
    processes = dict(usage)
    processes["wrk"] = Usage(
        cpu_seconds=result.cpu_seconds,
        cpu_percent=round(100 * result.cpu_seconds / max(result.duration_s, 1e-9), 1),
        peak_memory_mb=None,
        processes=1,
    )
    run = LoadRun.from_wrk(label, system, result, load.connections, processes)
    if result.exhausted:
        run.notes.append(
            f"{result.exhausted} requests found no unused payment left: the pool was too "
            "small and the figures understate throughput"
        )
    return run


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(milliseconds: list[float]) -> dict[str, float]:
    if not milliseconds:
        return {}
    summary = {f"p{p}": percentile(milliseconds, p) for p in (50, 90, 99)}
    summary["max"] = max(milliseconds)
    summary["mean"] = sum(milliseconds) / len(milliseconds)
    return {name: round(value, 3) for name, value in summary.items() if value is not None}
