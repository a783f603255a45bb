"""The connector registry: the only way the core reaches a gateway. One line per gateway."""

from __future__ import annotations

import httpx

from payrelay.connectors.base import Account, Connector
from payrelay.connectors.sandbox import SandboxConnector

CONNECTORS: dict[str, type[Connector]] = {
    SandboxConnector.code: SandboxConnector,
}


class UnknownConnector(LookupError):
    pass


def connector_class(code: str) -> type[Connector]:
    try:
        return CONNECTORS[code]
    except KeyError:
        raise UnknownConnector(code) from None


def is_registered(code: str) -> bool:
    return code in CONNECTORS


def build_connector(code: str, account: Account, http: httpx.AsyncClient) -> Connector:
    return connector_class(code)(account, http)


def codes() -> list[str]:
    return sorted(CONNECTORS)
