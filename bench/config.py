"""What one run of the suite does: scenarios, durations, load and data sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCENARIOS = ("create", "replay", "capture-refund", "webhooks", "growth", "statistics")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    scenarios: tuple[str, ...]
    duration: int  # seconds of measured load per run
    warmup: int  # seconds of load before each measured run, discarded
    concurrency: int  # open connections of the load generator
    threads: int  # wrk threads (1 keeps the generator's CPU share small on 2 cores)
    rounds: int  # measured runs per comparison; the median is reported
    growth_sizes: tuple[int, ...]
    statistics_size: int
    seed_days: int  # seeded payments are spread over this many days before now
    webhook_rate: float  # webhooks per second in the webhook scenario
    replay_keys: int  # distinct keys the replay scenario cycles through
    out: Path
    quick: bool
    profile: bool  # py-spy on payrelay during the create scenario
    keep_databases: bool
    database_url: str | None  # an existing server instead of the embedded one

    @property
    def run_kind(self) -> str:
        return "quick" if self.quick else "full"


FULL = {
    "duration": 30,
    "warmup": 10,
    "growth_sizes": (0, 1_000_000, 5_000_000),
    "statistics_size": 1_000_000,
    "replay_keys": 2000,
}
QUICK = {
    "duration": 3,
    "warmup": 1,
    "growth_sizes": (0, 2_000, 10_000),
    "statistics_size": 20_000,
    "replay_keys": 200,
}
