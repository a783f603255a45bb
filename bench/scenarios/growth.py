"""Scenario 5, growth: the create scenario on a database that already holds 0, 1 million and
5 million payments (by default), seeded set-based between the runs of one database."""

from __future__ import annotations

from bench.console import say
from bench.payments import wait_until_quiet
from bench.results import ScenarioResult, ratio
from bench.scenarios.create import measure_payrelay_create
from bench.seed import Owner, SeedReport, seed_payments, settle
from bench.stack import RunContext, open_stack

TITLE = "Growth: create latency with existing payments"
DATABASE_SIZE = "SELECT pg_database_size(current_database())"


async def run(context: RunContext) -> ScenarioResult:
    config = context.config
    result = ScenarioResult("growth", TITLE)
    sizes = sorted(set(config.growth_sizes))
    report = SeedReport()
    steps: list[dict[str, object]] = []
    async with open_stack(context, "growth") as stack:
        owner = Owner(stack.merchant_id, stack.account_id)
        seeded = 0
        for size in sizes:
            if size > seeded:
                say(f"growth: seeding up to {size:,} payments")
                await seed_payments(
                    stack.db,
                    owner,
                    first=seeded + 1,
                    count=size - seeded,
                    days=config.seed_days,
                    report=report,
                )
                seeded = size
                await settle(stack.db)
            await wait_until_quiet(stack)
            run = await measure_payrelay_create(context, stack, f"create @ {size:,}")
            result.runs.append(run)
            database_bytes = int(await stack.db.fetchval(DATABASE_SIZE))
            steps.append(
                {
                    "payments": size,
                    "throughput_rps": run.throughput_rps,
                    "p50_ms": run.latency_ms["p50"],
                    "p99_ms": run.latency_ms["p99"],
                    "database_mb": round(database_bytes / 2**20),
                }
            )
    empty, largest = result.runs[0], result.runs[-1]
    result.metrics.update(
        steps=steps,
        smallest_size=sizes[0],
        largest_size=sizes[-1],
        p99_ratio_largest_to_smallest=ratio(largest.latency_ms["p99"], empty.latency_ms["p99"]),
        seeded_payments=report.payments,
        seed_seconds=round(report.seconds, 1),
        seed_rate_per_s=round(report.payments / report.seconds) if report.seconds else None,
        errors=sum(run.error_total for run in result.runs),
    )
    if report.logs_at_seeding_time:
        result.notes.append(
            "seeded audit rows carry the seeding time (no partition for the seeded months)"
        )
    result.notes.append(
        "Seeded payments are finished ones (captured, refunded, failed, expired, voided) with "
        "their request, transaction, create operation, idempotency key, two audit rows and "
        "daily statistics; the sandbox gateway's own table is not seeded (a real gateway keeps "
        "its books elsewhere)."
    )
    return result
