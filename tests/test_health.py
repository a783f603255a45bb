import asyncio
import os

import httpx
import pytest

from payrelay.config import Settings
from tests.conftest import ServerThread, _admin, _database_on, _free_port


async def test_healthz(http):
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_a_migrated_database(http):
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_request_id_is_echoed_or_generated(http):
    response = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_metrics_count_requests_by_route_and_payments_by_status(http, factory):
    shop = await factory.merchant()
    await shop.captured()
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'payrelay_http_requests_total{method="POST",route="/api/v1/payments/create",status="201"}'
        in text
    )
    assert 'route="/api/v1/payments/{payment_id}"' in text
    assert "payrelay_http_request_duration_seconds_bucket" in text
    assert 'payrelay_payments_total{gateway="sandbox",status="pending"}' in text
    assert 'payrelay_payments_total{gateway="sandbox",status="captured"}' in text


async def test_openapi_and_docs_are_served(http):
    schema = (await http.get("/openapi.json")).json()
    assert "/api/v1/payments/create" in schema["paths"]
    assert "/api/v1/payments/{payment_id}/refund" in schema["paths"]
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


@pytest.mark.parametrize("database", ["unmigrated", "missing"])
async def test_readyz_is_503_until_the_database_is_there_and_migrated(database_url, database):
    name = f"payrelay_{database}_{os.getpid()}"
    if database == "unmigrated":
        await _admin(database_url, f'CREATE DATABASE "{name}"')
    port = _free_port()
    settings = Settings(
        database_url=_database_on(database_url, name), port=port, log_level="WARNING"
    )
    server = ServerThread(settings, _database_on(database_url, name))
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await asyncio.to_thread(server.stop)
        if database == "unmigrated":
            await _admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')
    assert response.status_code == 503
    expected = "database not migrated" if database == "unmigrated" else "database unreachable"
    assert response.json()["reason"] == expected


async def test_worker_metrics_are_exported(http, factory):
    from tests.callback.receiver import Receiver
    from tests.callback.test_delivery import _settled
    from tests.inbox import DATABASE

    with Receiver() as receiver:
        shop = await factory.merchant(callback_url=receiver.url)
        payment = await shop.captured()
        await _settled(DATABASE[0], payment["id"])
    text = (await http.get("/metrics")).text
    assert 'payrelay_callback_deliveries_total{outcome="delivered"}' in text
    assert "payrelay_callback_delivery_latency_seconds_bucket" in text
    assert "payrelay_callback_attempt_duration_seconds_bucket" in text
    assert 'payrelay_webhooks_received_total{gateway="sandbox",outcome="accepted"}' in text
    assert 'payrelay_webhooks_processed_total{gateway="sandbox",result="processed"}' in text
    assert 'payrelay_queue_depth{queue="callbacks"}' in text
    assert 'payrelay_queue_oldest_age_seconds{queue="webhooks"}' in text
    assert 'payrelay_queue_depth{queue="statistics_deltas"}' in text
