"""Prometheus counters of the payment domain."""

from __future__ import annotations

from prometheus_client import Counter

from payrelay.enums import PaymentStatus

PAYMENTS = Counter(
    "payrelay_payments",
    "Payments that entered each status, by gateway.",
    ["gateway", "status"],
)


def record_status_change(gateway: str, status: PaymentStatus) -> None:
    PAYMENTS.labels(gateway=gateway, status=status.value).inc()
