"""Prometheus metrics of callback delivery."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Histogram

from payrelay.callback.delivery import Verdict

DELIVERIES = Counter(
    "payrelay_callback_deliveries", "Callback delivery attempts by outcome.", ["outcome"]
)
ATTEMPT_DURATION = Histogram(
    "payrelay_callback_attempt_duration_seconds",
    "How long the merchant's endpoint took to answer.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_LATENCY = Histogram(
    "payrelay_callback_delivery_latency_seconds",
    "From the change that queued a callback to its successful delivery.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 36000),
)


def record_delivery(
    verdict: Verdict, duration_ms: int, created_at: datetime, now: datetime
) -> None:
    DELIVERIES.labels(outcome=verdict.value).inc()
    ATTEMPT_DURATION.observe(duration_ms / 1000)
    if verdict is Verdict.DELIVERED:
        DELIVERY_LATENCY.observe(max(0.0, (now - created_at).total_seconds()))
