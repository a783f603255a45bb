"""Schemathesis against our own OpenAPI document: for generated requests, no 5xx, and every
response (status, content type, body) matches the schema the API publishes."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payrelay.app import create_app
from payrelay.config import Settings


@pytest.fixture(scope="module")
async def merchant_headers(factory_module):
    shop = await factory_module.merchant(name="schemathesis")
    # One real payment so generated ids sometimes meet data, not only 404s.
    await shop.captured()
    return shop.headers


# The document is what the app publishes; it is built without touching a database.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(), "postgresql://schema-only@localhost/none").openapi()
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, server, merchant_headers):
    case.call_and_validate(
        base_url=server,
        headers=merchant_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
