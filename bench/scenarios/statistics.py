"""Scenario 6, statistics read: payrelay's 30-day daily statistics at 1 million payments (by
default) against the marketplace document's `GROUP BY DATE_TRUNC` query over
`payment_transactions`.

payrelay's read is `GET /api/v1/statistics/daily?from=&to=` over HTTP, measured by wrk with one
connection (latency, not throughput). The naive query is timed in SQL alone, which favours it:
the comparison leaves out its HTTP and serialisation costs. The SQL payrelay's read rests on (a
range of the `payment_statistics` rollup) is timed too, for reference.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.console import say
from bench.measure import latency_summary, warm_and_measure
from bench.results import ScenarioResult, ratio
from bench.seed import Owner, SeedReport, seed_payments, settle
from bench.stack import RunContext, Stack, open_stack
from bench.wrk import Load

TITLE = "Statistics read: 30 days of daily statistics"
DAYS = 30
NAIVE = """
SELECT
    DATE_TRUNC('day', created_at) as date,
    COUNT(*) as total_transactions,
    COUNT(*) FILTER (WHERE status = 'captured') as successful,
    COUNT(*) FILTER (WHERE status = 'failed') as failed,
    SUM(amount) FILTER (WHERE status = 'captured') as revenue,
    SUM(marketplace_commission) FILTER (WHERE status = 'captured') as commission
FROM payment_transactions
WHERE created_at >= CURRENT_DATE - INTERVAL '30 days'
GROUP BY DATE_TRUNC('day', created_at)
ORDER BY date DESC
"""
ROLLUP = """
SELECT date, gateway_name, currency, total_requests, successful_payments, failed_payments,
       total_amount, successful_amount, refunded_amount, commission_amount
FROM payment_statistics
WHERE merchant_id = $1 AND date BETWEEN $2 AND $3
ORDER BY date DESC, gateway_name, currency
"""
MAX_QUERIES = 200


async def time_query(
    stack: Stack, sql: str, arguments: list[Any], seconds: float
) -> dict[str, Any]:
    """Run `sql` repeatedly for about `seconds` (at least 5 times, after one unmeasured run)."""
    statement = await stack.db.prepare(sql)
    await statement.fetch(*arguments)
    timings: list[float] = []
    deadline = time.monotonic() + seconds
    while len(timings) < MAX_QUERIES and (len(timings) < 5 or time.monotonic() < deadline):
        started = time.perf_counter()
        rows = await statement.fetch(*arguments)
        timings.append(1000 * (time.perf_counter() - started))
    return {"runs": len(timings), "rows": len(rows), **latency_summary(timings)}


async def run(context: RunContext) -> ScenarioResult:
    config = context.config
    result = ScenarioResult("statistics", TITLE)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS - 1)
    path = f"/api/v1/statistics/daily?from={first_day.isoformat()}&to={today.isoformat()}"
    report = SeedReport()
    async with open_stack(context, "statistics") as stack:
        say(f"statistics: seeding {config.statistics_size:,} payments")
        await seed_payments(
            stack.db,
            Owner(stack.merchant_id, stack.account_id),
            first=1,
            count=config.statistics_size,
            days=config.seed_days,
            report=report,
        )
        await settle(stack.db)
        probe = await stack.client.request("GET", path, headers=stack.auth)
        available = probe.status == 200
        if available:

            def load_for(tag: str, seconds: int) -> Load:
                return Load(
                    mode="get",
                    options={"path": path},
                    duration=seconds,
                    connections=1,
                    threads=1,
                    headers=stack.auth,
                )

            result.runs.append(
                await warm_and_measure(
                    context,
                    stack.base_url,
                    load_for,
                    label="statistics endpoint",
                    system="payrelay",
                    watches=stack.watches(context),
                    database_url=stack.url,
                )
            )
        else:
            result.notes.append(
                f"GET {path} answered {probe.status}: payrelay has no statistics endpoint yet, "
                "so only the SQL is timed"
            )
        naive = await time_query(stack, NAIVE, [], config.duration)
        rollup = await time_query(
            stack, ROLLUP, [stack.merchant_id, first_day, today], config.duration
        )
    endpoint = result.runs[0].latency_ms if result.runs else {}
    result.metrics.update(
        payments=config.statistics_size,
        endpoint_available=available,
        endpoint_status=probe.status,
        endpoint_ms=endpoint,
        naive_sql_ms=naive,
        rollup_sql_ms=rollup,
        speedup_endpoint_vs_naive=ratio(naive.get("p50"), endpoint.get("p50")),
        speedup_rollup_sql_vs_naive=ratio(naive.get("p50"), rollup.get("p50")),
        seed_seconds=round(report.seconds, 1),
        errors=sum(run.error_total for run in result.runs),
    )
    return result
