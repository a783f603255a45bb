"""What a run records: load runs (one wrk invocation each), scenario results, target verdicts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.monitor import Usage
from bench.wrk import WrkResult

# Processes that are the load generator or the harness, not the system under test: their CPU
# is reported but not counted in the cost per request.
DRIVERS = frozenset({"wrk", "harness"})


@dataclass
class LoadRun:
    label: str
    system: str  # "payrelay" or "reference"
    duration_s: float
    concurrency: int
    requests: int
    throughput_rps: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    error_total: int
    processes: dict[str, Usage]
    cpu_ms_per_request: float | None
    database_waits: dict[str, Any] | None = None  # see bench.waits
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_wrk(
        cls,
        label: str,
        system: str,
        result: WrkResult,
        concurrency: int,
        processes: dict[str, Usage],
    ) -> LoadRun:
        server_cpu = sum(
            usage.cpu_seconds for name, usage in processes.items() if name not in DRIVERS
        )
        return cls(
            label=label,
            system=system,
            duration_s=round(result.duration_s, 3),
            concurrency=concurrency,
            requests=result.requests,
            throughput_rps=round(result.throughput, 1),
            latency_ms=result.latency_ms,
            errors=result.errors,
            error_total=result.error_total,
            processes=processes,
            cpu_ms_per_request=round(1000 * server_cpu / result.requests, 2)
            if result.requests
            else None,
        )


@dataclass
class ScenarioResult:
    name: str
    title: str
    runs: list[LoadRun] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    requirement: str
    measured: str
    met: bool | None  # None: not measured in this run (scenario skipped or failed)
    note: str = ""  # why the verdict is not final (a quick run, a smaller data set)


def median_run(runs: list[LoadRun]) -> LoadRun:
    """The run with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run.throughput_rps)
    return ordered[(len(ordered) - 1) // 2]


def median_of(values: list[float]) -> float:
    return float(statistics.median(values))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)
