"""A merchant's accounts at gateways. Credentials stay in `config`: never returned, never logged."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from payrelay import connectors
from payrelay.audit import service as audit_service
from payrelay.connectors.base import Account, ConfigInvalid
from payrelay.exceptions import UnprocessableEntity
from payrelay.gateway_account.repository import GatewayAccountRepository
from payrelay.kit.db import AsyncSession
from payrelay.kit.urls import UrlRejected, validate_http_url
from payrelay.models import PaymentGateway


class InvalidGatewayConfig(UnprocessableEntity):
    code = "invalid_gateway_config"


class UnknownGatewayCode(UnprocessableEntity):
    code = "unknown_gateway"


def webhook_url(public_url: str, code: str, account_id: int) -> str:
    return f"{public_url.rstrip('/')}/webhooks/{code}/{account_id}"


def account_context(account: PaymentGateway, public_url: str) -> Account:
    return Account(
        id=account.id,
        config=account.config,
        base_url=account.base_url,
        public_url=public_url.rstrip("/"),
        webhook_url=webhook_url(public_url, account.code, account.id),
    )


async def set_account(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    code: str,
    config: Mapping[str, Any],
) -> PaymentGateway:
    """Create the merchant's account at `code`, or replace its configuration."""
    if not connectors.is_registered(code):
        raise UnknownGatewayCode(f"unknown gateway {code!r}", details={"known": connectors.codes()})
    config = dict(config)
    base_url = config.pop("base_url", None)
    if base_url is not None:
        if not isinstance(base_url, str):
            raise InvalidGatewayConfig("base_url must be a string")
        try:
            validate_http_url(base_url)
        except UrlRejected as exc:
            raise InvalidGatewayConfig(f"base_url: {exc}") from exc
    connector = connectors.connector_class(code)
    repository = GatewayAccountRepository(session)
    account = await repository.find(merchant_id, code)
    previous = dict(account.config) if account is not None else {}
    try:
        prepared = connector.prepare_config({**_kept_secrets(previous, config), **config})
    except ConfigInvalid as exc:
        raise InvalidGatewayConfig(str(exc)) from exc
    now = datetime.now(UTC)
    if account is None:
        account = PaymentGateway(
            merchant_id=merchant_id,
            code=code,
            name=connector.display_name,
            config=prepared,
            base_url=base_url,
            enabled=True,
        )
        await repository.add(account)
        event = "gateway.created"
    else:
        account.config = prepared
        account.base_url = base_url
        account.enabled = True
        account.updated_at = now
        await session.flush()
        event = "gateway.updated"
    await audit_service.record(
        session,
        event_type=event,
        actor="operator",
        merchant_id=merchant_id,
        data={"gateway": code, "account_id": account.id, "config_keys": sorted(prepared)},
    )
    return account


def _kept_secrets(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Generated secrets survive a reconfiguration that does not mention them."""
    return {key: value for key, value in previous.items() if key not in new}


async def get_account(
    session: AsyncSession, merchant_id: uuid.UUID, code: str
) -> PaymentGateway | None:
    return await GatewayAccountRepository(session).find(merchant_id, code)


MAX_ACCOUNT_ID = 2**31 - 1  # payment_gateways.id is an INTEGER


async def get_account_by_id(session: AsyncSession, account_id: int) -> PaymentGateway | None:
    if not 0 < account_id <= MAX_ACCOUNT_ID:  # from a URL: out of range is simply unknown
        return None
    return await GatewayAccountRepository(session).get(account_id)
