"""The SePay emulator on its own: webhooks exactly as SePay sends them (body, authentication,
retries), its options, and the v1 transactions API it serves."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from payrelay import connectors
from payrelay.connectors.base import IncomingWebhook
from payrelay.connectors.sepay import webhooks
from payrelay.connectors.sepay.emulator import parse_settings
from tests.callback.receiver import Receiver, Reply
from tests.connectors.sepay.test_webhooks import OFFICIAL_SAMPLE
from tests.emulators import RunningEmulator

TOKEN = "EMULATORTOKEN123"


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@asynccontextmanager
async def running(**options: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = {"time_scale": "0.001", "api_token": TOKEN, "rate_limit": "0", **options}
    with RunningEmulator("sepay", settings) as emulator:
        async with httpx.AsyncClient(base_url=emulator.url, timeout=10) as client:
            yield client


async def simulate(client: httpx.AsyncClient, **spec) -> dict:
    response = await client.post("/_emulator/transfers", json={"wait": True, **spec})
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- webhooks -------------------------------------------------------------------------------


async def test_the_webhook_body_is_sepays_official_sample_byte_for_byte(receiver):
    async with running(
        webhook_url=receiver.url,
        auth="hmac",
        hmac_secret="whsec_test_123",
        first_id="92704",
        opening_balance="16800000",
    ) as client:
        view = await simulate(
            client,
            content="chuyen tien mua iphone",
            amount=2277000,
            transaction_date="2023-03-25 14:02:37",
            reference_code="MBVCB.3278907687",
            description="",
        )
    assert view["delivery"]["status"] == "delivered"
    [request] = receiver.received
    assert request.body == OFFICIAL_SAMPLE
    assert request.headers["content-type"] == "application/json"
    stamp = int(request.headers["x-sepay-timestamp"])
    assert request.headers["x-sepay-signature"] == webhooks.signature(
        "whsec_test_123", stamp, OFFICIAL_SAMPLE
    )
    webhooks.verify_hmac(
        "whsec_test_123",
        IncomingWebhook(request.headers, request.body, datetime.now(UTC)),
    )


async def test_api_key_and_no_authentication(receiver):
    async with running(webhook_url=receiver.url, api_key="k-123") as client:
        await simulate(client, content="a", amount=1000)
        await client.post("/_emulator/settings", json={"auth": "none"})
        await simulate(client, content="b", amount=1000)
    first, second = receiver.received
    assert first.headers["authorization"] == "Apikey k-123"
    assert "authorization" not in second.headers
    assert "x-sepay-signature" not in second.headers


async def test_the_unconfirmed_hmac_variant_is_an_option(receiver):
    async with running(
        webhook_url=receiver.url,
        auth="hmac",
        hmac_secret="s3cret",
        hmac_message="body",
        signature_header="X-Signature",
        signature_prefix="",
    ) as client:
        await simulate(client, content="a", amount=1000)
    [request] = receiver.received
    assert "x-sepay-signature" not in request.headers
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == expected


async def test_a_failing_endpoint_gets_the_same_body_eight_times_then_the_webhook_fails(receiver):
    receiver.default = Reply(500)
    async with running(webhook_url=receiver.url) as client:
        view = await simulate(client, content="a", amount=1000)
    delivery = view["delivery"]
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 8  # Fibonacci gaps 1, 1, 2, 3, 5, 8, 13 min
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * 8
    assert len(receiver.received) == 8
    assert len({r.body for r in receiver.received}) == 1  # same payload, same id
    assert json.loads(receiver.received[0].body)["id"] == view["id"]


async def test_retries_stop_at_the_first_success(receiver):
    receiver.reply(Reply(500), Reply(404))
    async with running(webhook_url=receiver.url) as client:
        view = await simulate(client, content="a", amount=1000)
    assert view["delivery"]["status"] == "delivered"
    assert [a["status_code"] for a in view["delivery"]["attempts"]] == [500, 404, 200]


async def test_an_unreachable_endpoint_is_retried_too():
    async with running(webhook_url="http://127.0.0.1:9/nowhere", retry_schedule="1,2") as client:
        view = await simulate(client, content="a", amount=1000)
    attempts = view["delivery"]["attempts"]
    assert view["delivery"]["status"] == "failed"
    assert len(attempts) == 3
    assert all(a["error"] and a["status_code"] is None for a in attempts)


async def test_no_retry_and_the_five_hour_limit_are_options(receiver):
    receiver.default = Reply(500)
    async with running(webhook_url=receiver.url, retry="false") as client:
        once = await simulate(client, content="a", amount=1000)
        # Attempts at 0, 1 and 2 minutes; the next would be at 4, past the limit of 3. A minute
        # lasts half a second here, so the attempts' own duration cannot push one past it.
        changes = {"retry": True, "max_age_minutes": 3, "time_scale": 0.5}
        await client.post("/_emulator/settings", json=changes)
        aged = await simulate(client, content="b", amount=1000)
    assert len(once["delivery"]["attempts"]) == 1
    assert len(aged["delivery"]["attempts"]) == 3
    assert aged["delivery"]["status"] == "failed"


async def test_any_2xx_is_a_success_and_strict_mode_wants_200_with_success_true(receiver):
    receiver.default = Reply(204, b"")
    async with running(webhook_url=receiver.url) as client:
        relaxed = await simulate(client, content="a", amount=1000)
        await client.post("/_emulator/settings", json={"success": "strict", "retry": False})
        strict = await simulate(client, content="b", amount=1000)
        receiver.default = Reply(200, b'{"success":true}')
        accepted = await simulate(client, content="c", amount=1000)
    assert relaxed["delivery"]["status"] == "delivered"
    assert strict["delivery"]["status"] == "failed"
    assert accepted["delivery"]["status"] == "delivered"


async def test_manual_replay_sends_the_same_payload_once(receiver):
    receiver.reply(*[Reply(500)] * 8)
    async with running(webhook_url=receiver.url) as client:
        view = await simulate(client, content="a", amount=1000)
        assert view["delivery"]["status"] == "failed"
        response = await client.post(f"/_emulator/transfers/{view['id']}/replay", json={"wait": 1})
    replayed = response.json()
    assert replayed["delivery"]["status"] == "delivered"
    assert replayed["delivery"]["attempts"][-1]["manual"] is True
    assert len(receiver.received) == 9
    assert len({r.body for r in receiver.received}) == 1


async def test_filters_and_missed_webhooks(receiver):
    async with running(webhook_url=receiver.url, events="in", skip_without_code="true") as client:
        out = await simulate(client, content="DH123", amount=1000, transfer_type="out")
        no_code = await simulate(client, content="hello", amount=1000)
        missed = await simulate(client, content="DH123", amount=1000, code="DH123", deliver=False)
        sent = await simulate(client, content="x", amount=1000, code="DH9")
    assert out["delivery"]["status"] == "skipped"
    assert no_code["delivery"]["status"] == "skipped"
    assert missed["delivery"]["status"] == "not_sent"
    assert sent["delivery"]["status"] == "delivered"
    assert len(receiver.received) == 1


async def test_code_templates_fill_code_as_sent_or_uppercased(receiver):
    templates = "DH:4-10:NumberOnly;PR:3-6:NumberAndLetter"
    async with running(webhook_url=receiver.url, code_templates=templates) as client:
        numeric = await simulate(client, content="thanh toan dh1709 abc", amount=1000)
        letters = await simulate(client, content="ma prab12cd34", amount=1000)
        nothing = await simulate(client, content="dh12 ma x", amount=1000)
        await client.post("/_emulator/settings", json={"code_case": "upper"})
        upper = await simulate(client, content="ma prab12c", amount=1000)
    assert numeric["payload"]["code"] == "DH1709"
    assert letters["payload"]["code"] == "PRab12cd"  # at most 6 suffix characters
    assert nothing["payload"]["code"] is None
    assert upper["payload"]["code"] == "PRAB12C"


async def test_transfers_carry_the_running_balance_and_the_bank_time(receiver):
    async with running(webhook_url=receiver.url, opening_balance="1000", timezone="+07:00") as c:
        first = await simulate(c, content="a", amount=5000)
        second = await simulate(c, content="b", amount=2000, transfer_type="out")
    assert first["payload"]["accumulated"] == 6000
    assert second["payload"]["accumulated"] == 4000
    assert second["payload"]["transferType"] == "out"
    assert first["payload"]["description"] == "BankAPINotify a"
    vietnam = timezone(timedelta(hours=7))
    stamp = datetime.strptime(first["payload"]["transactionDate"], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=vietnam
    )
    assert abs((stamp - datetime.now(UTC)).total_seconds()) < 120


async def test_bad_control_requests_are_refused():
    async with running() as client:
        for spec in (
            {"amount": 1000},
            {"content": "a"},
            {"content": "a", "amount": 0},
            {"content": "a", "amount": 10.5},
            {"content": "a", "amount": 1, "transfer_type": "x"},
        ):
            response = await client.post("/_emulator/transfers", json=spec)
            assert response.status_code == 400, spec
        refused = await client.post("/_emulator/settings", json={"auth": "oauth"})
        assert refused.status_code == 400
        assert (await client.get("/_emulator/transfers/42")).status_code == 404


# --- transactions API ---------------------------------------------------------------------


async def test_the_transactions_api_lists_what_was_received_in_the_v1_envelope():
    async with running() as client:
        await simulate(
            client, content="first", amount=2277000, transaction_date="2025-01-01 10:00:00"
        )
        await simulate(client, content="second", amount=5000, transfer_type="out")
        await simulate(client, content="other", amount=1, account_number="555")
        response = await client.get(
            "/userapi/transactions/list", params={"account_number": "0123499999"}, headers=bearer()
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 200
    assert body["error"] is None
    assert body["messages"] == {"success": True}
    second, first = body["transactions"]  # newest first
    assert first["id"] == "100001"
    assert first["amount_in"] == "2277000.00"
    assert first["amount_out"] == "0.00"
    assert first["transaction_content"] == "first"
    assert first["transaction_date"] == "2025-01-01 10:00:00"
    assert second["amount_in"] == "0.00"
    assert second["amount_out"] == "5000.00"
    assert set(first) == {
        "id", "bank_brand_name", "account_number", "transaction_date", "amount_out",
        "amount_in", "accumulated", "transaction_content", "reference_number", "code",
        "sub_account", "bank_account_id",
    }  # fmt: skip


async def test_the_transactions_api_filters():
    async with running() as client:
        await simulate(client, content="a", amount=100, transaction_date="2025-01-01 10:00:00")
        await simulate(client, content="b", amount=200, transaction_date="2025-01-02 10:00:00")
        await simulate(client, content="c", amount=300, transaction_date="2025-01-03 10:00:00")

        async def contents(**params) -> list[str]:
            response = await client.get(
                "/userapi/transactions/list", params=params, headers=bearer()
            )
            return [t["transaction_content"] for t in response.json()["transactions"]]

        assert await contents(transaction_date_min="2025-01-02 00:00:00") == ["c", "b"]
        assert await contents(transaction_date_max="2025-01-02") == ["b", "a"]
        assert await contents(since_id="100001") == ["c", "b"]
        assert await contents(amount_in="200") == ["b"]
        assert await contents(limit="1") == ["c"]
        count = await client.get(
            "/userapi/transactions/count", params={"amount_in": "300"}, headers=bearer()
        )
        assert count.json()["count_transactions"] == 1
        details = await client.get("/userapi/transactions/details/100002", headers=bearer())
        assert details.json()["transaction"]["transaction_content"] == "b"
        missing = await client.get("/userapi/transactions/details/9", headers=bearer())
        assert missing.status_code == 404


@pytest.mark.parametrize("headers", [{}, bearer("wrong-token"), {"Authorization": TOKEN}])
async def test_the_transactions_api_needs_the_token(headers):
    async with running() as client:
        response = await client.get("/userapi/transactions/list", headers=headers)
    assert response.status_code == 401
    assert response.json()["messages"] == {"success": False}


async def test_the_transactions_api_answers_429_beyond_its_rate_limit():
    async with running(rate_limit="2", rate_limit_window="3600") as client:
        answers = [
            await client.get("/userapi/transactions/list", headers=bearer()) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    limited = answers[-1]
    assert limited.headers["retry-after"] == "3600"
    assert limited.headers["x-ratelimit-limit"] == "2"
    assert limited.headers["x-ratelimit-remaining"] == "0"


# --- options ------------------------------------------------------------------------------


def test_the_defaults_are_the_documented_behaviour():
    settings = parse_settings({})
    assert settings.auth == "apikey"
    assert settings.retry_schedule == (1, 1, 2, 3, 5, 8, 13)
    assert settings.max_age_minutes == 300
    assert settings.timeout == 30
    assert settings.success == "2xx"
    assert settings.hmac_message == "timestamp.body"
    assert settings.signature_header == "X-SePay-Signature"
    assert settings.signature_prefix == "sha256="
    assert settings.rate_limit == 2
    assert settings.rate_limit_window == 1
    assert settings.timezone.utcoffset(None).total_seconds() == 7 * 3600


@pytest.mark.parametrize(
    "options",
    [
        {"colour": "blue"},
        {"auth": "oauth"},
        {"retry_schedule": "1,x"},
        {"retry_schedule": "1,-1"},
        {"time_scale": "0"},
        {"timezone": "Asia/Ho_Chi_Minh"},
        {"code_templates": "PR:0-40:NumberOnly"},
        {"code_templates": "PR"},
        {"skip_without_code": "yes"},
    ],
)
def test_a_bad_option_is_refused(options):
    with pytest.raises(ValueError):  # noqa: PT011 (the CLI shows the message)
        connectors.emulator_app("sepay", options)
