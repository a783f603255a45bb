"""The targets of issue 7, judged from a run's figures (met, not met, or not measured)."""

from __future__ import annotations

from typing import Any

from bench.config import BenchConfig
from bench.results import ScenarioResult, Verdict, ratio

CREATE_THROUGHPUT = 0.8  # payrelay create throughput at least 0.8 x the reference's
CREATE_P99 = 2.0  # and its p99 at most 2 x the reference's
REPLAY_OVER_CREATE = 1.5
WEBHOOK_RATE = 200.0
CALLBACK_P99_MS = 100.0
BACKLOG_SLOPE_SHARE = 0.02  # growth under 2 % of the rate per second counts as none
BACKLOG_END_SECONDS = 1.0  # and at most one second of traffic still queued at the end
KEPT_UP = 0.95  # webhooks accepted per second at least 95 % of the rate sent
GROWTH_SIZE = 5_000_000
GROWTH_P99 = 1.2
STATISTICS_SIZE = 1_000_000
STATISTICS_MS = 20.0
STATISTICS_SPEEDUP = 50.0


def _metrics(results: dict[str, ScenarioResult], name: str) -> dict[str, Any] | None:
    result = results.get(name)
    if result is None or result.error is not None:
        return None
    return result.metrics


def _absent(target: str, requirement: str, why: str) -> Verdict:
    return Verdict(target, requirement, why, None)


def create_target(results: dict[str, ScenarioResult]) -> Verdict:
    requirement = (
        f"throughput >= {CREATE_THROUGHPUT} x reference and p99 <= {CREATE_P99} x reference p99"
    )
    metrics = _metrics(results, "create")
    if metrics is None:
        return _absent("create vs reference", requirement, "create scenario not run")
    throughput, p99 = metrics["throughput_ratio"], metrics["p99_ratio"]
    measured = (
        f"{metrics['payrelay_rps']}/s vs {metrics['reference_rps']}/s ({throughput} x); "
        f"p99 {metrics['payrelay_p99_ms']} ms vs {metrics['reference_p99_ms']} ms ({p99} x)"
    )
    met = (
        throughput is not None
        and p99 is not None
        and throughput >= CREATE_THROUGHPUT
        and p99 <= CREATE_P99
    )
    return Verdict("create vs reference", requirement, measured, met)


def replay_target(results: dict[str, ScenarioResult]) -> Verdict:
    requirement = f"replay throughput >= {REPLAY_OVER_CREATE} x create"
    replay, create = _metrics(results, "replay"), _metrics(results, "create")
    if replay is None or create is None:
        return _absent("replay vs create", requirement, "needs the create and replay scenarios")
    share = ratio(replay["replay_rps"], create["payrelay_rps"])
    measured = f"{replay['replay_rps']}/s vs create {create['payrelay_rps']}/s ({share} x)"
    return Verdict(
        "replay vs create", requirement, measured, share is not None and share >= REPLAY_OVER_CREATE
    )


def webhook_target(results: dict[str, ScenarioResult]) -> Verdict:
    requirement = (
        f"webhook-to-callback p99 <= {CALLBACK_P99_MS:.0f} ms at {WEBHOOK_RATE:.0f}/s with one "
        "worker, no backlog growth"
    )
    metrics = _metrics(results, "webhooks")
    if metrics is None:
        return _absent("webhook to callback", requirement, "webhooks scenario not run")
    rate = metrics["rate"]
    p99 = metrics["callback_latency_ms"].get("p99")
    slope = metrics["backlog_slope_per_s"]
    measured = (
        f"p99 {p99} ms at {metrics['dispatch_rate']}/s sent, {metrics['accepted_rate']}/s "
        f"accepted; backlog slope {slope}/s, "
        f"{metrics['backlog_at_end']} queued at the end, {metrics['callbacks_missing']} missing"
    )
    no_growth = (
        (slope is None or slope <= BACKLOG_SLOPE_SHARE * rate)
        and metrics["backlog_at_end"] <= rate * BACKLOG_END_SECONDS
        and metrics["callbacks_missing"] == 0
    )
    kept_up = metrics["accepted_rate"] >= KEPT_UP * rate
    met = p99 is not None and p99 <= CALLBACK_P99_MS and no_growth and kept_up
    note = "" if rate >= WEBHOOK_RATE else f"measured at {rate:.0f}/s, below the target's rate"
    return Verdict("webhook to callback", requirement, measured, met, note)


def growth_target(results: dict[str, ScenarioResult]) -> Verdict:
    requirement = f"create p99 at {GROWTH_SIZE:,} payments <= {GROWTH_P99} x empty"
    metrics = _metrics(results, "growth")
    if metrics is None:
        return _absent("growth", requirement, "growth scenario not run")
    steps = metrics["steps"]
    share = metrics["p99_ratio_largest_to_smallest"]
    measured = "; ".join(f"{step['payments']:,}: p99 {step['p99_ms']} ms" for step in steps)
    measured += f" ({share} x)"
    note = ""
    if metrics["smallest_size"] != 0 or metrics["largest_size"] < GROWTH_SIZE:
        note = f"sizes {metrics['smallest_size']:,}..{metrics['largest_size']:,}, not 0..5 M"
    # A size at which no create completed has no p99 (0 in the steps): never a pass.
    completed = all(step["throughput_rps"] > 0 for step in steps)
    if not completed:
        note = "; ".join(filter(None, [note, "no create completed at some size"]))
    met = completed and share is not None and share <= GROWTH_P99
    return Verdict("growth", requirement, measured, met, note)


def statistics_target(results: dict[str, ScenarioResult]) -> Verdict:
    requirement = (
        f"statistics read <= {STATISTICS_MS:.0f} ms (p99) and >= {STATISTICS_SPEEDUP:.0f} x "
        f"faster than the naive query at {STATISTICS_SIZE:,} payments"
    )
    metrics = _metrics(results, "statistics")
    if metrics is None:
        return _absent("statistics read", requirement, "statistics scenario not run")
    naive = metrics["naive_sql_ms"].get("p50")
    if not metrics["endpoint_available"]:
        measured = (
            f"no endpoint (HTTP {metrics['endpoint_status']}); naive query p50 {naive} ms, "
            f"rollup SQL p50 {metrics['rollup_sql_ms'].get('p50')} ms"
        )
        return Verdict("statistics read", requirement, measured, False)
    endpoint = metrics["endpoint_ms"]
    speedup = metrics["speedup_endpoint_vs_naive"]
    measured = (
        f"p50 {endpoint.get('p50')} ms, p99 {endpoint.get('p99')} ms; naive p50 {naive} ms "
        f"({speedup} x)"
    )
    met = (
        endpoint.get("p99") is not None
        and endpoint["p99"] <= STATISTICS_MS
        and speedup is not None
        and speedup >= STATISTICS_SPEEDUP
    )
    note = "" if metrics["payments"] >= STATISTICS_SIZE else f"at {metrics['payments']:,} payments"
    return Verdict("statistics read", requirement, measured, met, note)


def judge(results: dict[str, ScenarioResult], config: BenchConfig) -> list[Verdict]:
    verdicts = [
        create_target(results),
        replay_target(results),
        webhook_target(results),
        growth_target(results),
        statistics_target(results),
    ]
    if not config.quick:
        return verdicts
    quick = "quick run: tiny sizes and durations, not a verdict"
    return [
        Verdict(
            verdict.target,
            verdict.requirement,
            verdict.measured,
            verdict.met,
            f"{quick}; {verdict.note}" if verdict.note else quick,
        )
        for verdict in verdicts
    ]
