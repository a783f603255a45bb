"""Prometheus metrics of the webhook inbox."""

from __future__ import annotations

from prometheus_client import Counter

INTAKE = Counter(
    "payrelay_webhooks_received",
    "Gateway webhook events received, by gateway and outcome (accepted, duplicate, rejected).",
    ["gateway", "outcome"],
)
PROCESSED = Counter(
    "payrelay_webhooks_processed",
    "Webhook events the worker applied, by gateway and result (processed, ignored, failed).",
    ["gateway", "result"],
)


def record_intake(gateway: str, outcome: str) -> None:
    INTAKE.labels(gateway=gateway, outcome=outcome).inc()


def record_processed(gateway: str, result: str) -> None:
    PROCESSED.labels(gateway=gateway, result=result).inc()
