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
