"""What each answer of a merchant's endpoint means (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from payrelay.callback.delivery import Verdict, decide, sign
from payrelay.kit.crypto import generate_webhook_secret
from payrelay.kit.urls import is_private_host, resolves_to_private

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def judge(status, attempt=1, retry_after=None, jitter=0.0):
    return decide(
        status,
        retry_after=retry_after,
        attempt=attempt,
        schedule=SCHEDULE,
        jitter=jitter,
        now=NOW,
        rng=random.Random(7),
    )


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status):
    assert judge(status).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 408, 429, 301, 302])
def test_failures_worth_retrying_follow_the_schedule(status):
    for attempt, delay in enumerate(SCHEDULE, start=1):
        decision = judge(status, attempt)
        assert decision.verdict is Verdict.RETRY
        assert decision.retry_in == delay
    assert judge(status, len(SCHEDULE) + 1).verdict is Verdict.DEAD


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422])
def test_other_client_errors_stop_at_once(status):
    assert judge(status).verdict is Verdict.DEAD


def test_gone_disables_the_url():
    assert judge(410).verdict is Verdict.DISABLE


def test_jitter_stays_within_its_fraction():
    delays = {judge(500, 2, jitter=0.1).retry_in for _ in range(5)}
    assert all(270 <= delay <= 330 for delay in delays)


def test_retry_after_in_seconds_or_as_a_date_wins_when_longer():
    assert judge(429, retry_after="120").retry_in == 120
    assert judge(429, retry_after="1").retry_in == 5  # the schedule's wait is longer
    when = format_datetime(NOW + timedelta(minutes=10), usegmt=True)
    assert judge(503, retry_after=when).retry_in == 600
    assert judge(503, retry_after="not a date").retry_in == 5


def test_signatures_cover_every_live_secret_newest_first():
    first, second = generate_webhook_secret(), generate_webhook_secret()
    signed = sign({"id": "msg_1", "type": "payment.captured"}, [first, second], 1_700_000_000)
    assert signed.headers["webhook-id"] == "msg_1"
    assert signed.headers["webhook-timestamp"] == "1700000000"
    assert len(signed.headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in signed.headers["webhook-signature"].split())


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254", "::1", "[fe80::1]",
     "localhost", "api.localhost", "printer.local", "0.0.0.0"],  # noqa: S104
)  # fmt: skip
async def test_private_targets_are_recognised(host):
    assert is_private_host(host)
    assert await resolves_to_private(host)


@pytest.mark.parametrize("host", ["93.184.216.34", "2606:4700:4700::1111", "shop.example"])
def test_public_targets_are_not(host):
    assert not is_private_host(host)


def test_the_development_receiver_checks_both_signatures():
    import time

    from payrelay.callback.receiver import check

    secret = generate_webhook_secret()
    now = int(time.time())
    signed = sign({"id": "msg_2", "type": "payment.captured"}, [secret], now)
    assert check(secret, signed.headers, signed.body, now) == {
        "standard_webhooks": True,
        "signature_header": True,
    }
    assert check(generate_webhook_secret(), signed.headers, signed.body, now) == {
        "standard_webhooks": False,
        "signature_header": False,
    }
    assert not check(secret, signed.headers, signed.body, now + 600)["standard_webhooks"]
