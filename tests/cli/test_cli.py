"""The command line, run as a user runs it: `payrelay ...` in a subprocess."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.commands import payrelay


async def test_merchant_create_prints_id_key_and_secret_and_the_key_works(database_url, http):
    result = payrelay(database_url, "merchant", "create", "--name", "CLI shop", "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"id", "api_key", "callback_secret"}
    assert created["callback_secret"].startswith("whsec_")
    uuid.UUID(created["id"])

    headers = {"Authorization": f"Bearer {created['api_key']}"}
    listed = await http.get("/api/v1/payments", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["data"] == []

    gateway = payrelay(
        database_url,
        "gateway",
        "set",
        "--merchant",
        created["id"],
        "--gateway",
        "sandbox",
        "--json",
    )
    assert gateway.returncode == 0, gateway.stderr
    account = json.loads(gateway.stdout)
    assert account["webhook_url"].endswith(f"/webhooks/sandbox/{account['id']}")
    assert "config" not in account
    # Setting it again updates the same account.
    again = payrelay(
        database_url,
        "gateway",
        "set",
        "--merchant",
        created["id"],
        "--gateway",
        "sandbox",
        "--json",
    )
    assert json.loads(again.stdout)["id"] == account["id"]

    payment = await http.post(
        "/api/v1/payments/create",
        json={"order_id": "cli", "amount": "10000", "currency": "VND", "gateway": "sandbox"},
        headers={**headers, "Idempotency-Key": "cli-1"},
    )
    assert payment.status_code == 201, payment.text


def test_the_api_key_is_stored_hashed(database_url):
    import asyncio

    import asyncpg

    result = payrelay(database_url, "merchant", "create", "--name", "Hash check", "--json")
    created = json.loads(result.stdout)

    async def stored() -> list[str]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch(
                "SELECT key_hash, prefix FROM api_keys WHERE merchant_id = $1",
                uuid.UUID(created["id"]),
            )
        finally:
            await connection.close()
        return [value for row in rows for value in row.values()]

    values = asyncio.run(stored())
    assert created["api_key"] not in values
    assert len(values[0]) == 64


@pytest.mark.parametrize(
    ("args", "exit_code", "code"),
    [
        (["merchant", "create", "--name", "x", "--commission-rate", "abc"], 2, None),
        (["merchant", "create", "--name", "x", "--commission-rate", "1.5"], 1, "invalid_merchant"),
        (["merchant", "create", "--name", "x", "--commission-rate", "-0.1"], 1, "invalid_merchant"),
        (["merchant", "create", "--name", "   "], 1, "invalid_merchant"),
        (["merchant", "create", "--name", "x", "--callback-url", "ftp://x"], 1, "invalid_merchant"),
        (["merchant", "create", "--name", "x", "--escrow-hold-days", "366"], 1, "invalid_merchant"),
        (["merchant", "create", "--name", "x", "--escrow-hold-days", "-1"], 1, "invalid_merchant"),
        (
            ["merchant", "create", "--name", "x", "--timezone", "Mars/Olympus"],
            1,
            "invalid_merchant",
        ),
        (["merchant", "set", str(uuid.uuid4()), "--timezone", "UTC"], 1, "merchant_not_found"),
        (["merchant", "set", "not-a-uuid", "--timezone", "UTC"], 2, None),
        (["gateway", "set", "--merchant", "not-a-uuid", "--gateway", "sandbox"], 2, None),
        (["gateway", "set", "--merchant", str(uuid.uuid4()), "--gateway", "sandbox"], 1, None),
    ],
)
def test_bad_arguments_fail_clearly_and_change_nothing(database_url, args, exit_code, code):
    result = payrelay(database_url, *args, "--json")
    assert result.returncode == exit_code, result.stderr
    if code is not None:
        assert json.loads(result.stderr)["error"]["code"] == code
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("config", "gateway", "code", "exit_code"),
    [
        ("{not json", "sandbox", None, 2),
        ("[1, 2]", "sandbox", None, 2),
        ("{}", "nosuchgateway", "unknown_gateway", 1),
        ('{"api_key": "short"}', "sandbox", "invalid_gateway_config", 1),
        ('{"unexpected": "x"}', "sandbox", "invalid_gateway_config", 1),
        ('{"base_url": "ftp://x"}', "sandbox", "invalid_gateway_config", 1),
    ],
)
def test_gateway_set_rejects_bad_config(database_url, config, gateway, code, exit_code):
    merchant = json.loads(
        payrelay(database_url, "merchant", "create", "--name", "g", "--json").stdout
    )
    result = payrelay(
        database_url,
        "gateway", "set", "--merchant", merchant["id"], "--gateway", gateway, "--config", config,
        "--json",
    )  # fmt: skip
    assert result.returncode == exit_code, result.stderr
    if code is not None:
        assert json.loads(result.stderr)["error"]["code"] == code


def test_merchant_set_changes_only_what_it_is_given(database_url):
    created = json.loads(
        payrelay(
            database_url,
            "merchant",
            "create",
            "--name",
            "Settings",
            "--json",
            "--escrow-hold-days",
            "7",
            "--timezone",
            "Europe/Belgrade",
        ).stdout
    )
    changed = payrelay(
        database_url, "merchant", "set", created["id"], "--timezone", "Asia/Ho_Chi_Minh", "--json"
    )
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {
        "id": created["id"],
        "commission_rate": "0.050000",
        "escrow_hold_days": 7,
        "reporting_timezone": "Asia/Ho_Chi_Minh",
    }
    refused = payrelay(database_url, "merchant", "set", created["id"], "--escrow-hold-days", "999")
    assert refused.returncode == 1
    assert "escrow hold must be 0 to 365 days" in refused.stderr
    unchanged = payrelay(database_url, "merchant", "set", created["id"], "--json")
    assert json.loads(unchanged.stdout)["escrow_hold_days"] == 7
