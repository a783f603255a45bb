"""The connector registry: the only way the core reaches a gateway. One line per gateway."""

from __future__ import annotations

import importlib
from typing import Any

import httpx

from payrelay.connectors.allsecure import AllSecureConnector
from payrelay.connectors.base import Account, Connector
from payrelay.connectors.momo import MomoConnector
from payrelay.connectors.paypal import PaypalConnector
from payrelay.connectors.sandbox import SandboxConnector
from payrelay.connectors.sepay import SepayConnector
from payrelay.connectors.stripe import StripeConnector

ASGIApp = Any  # an emulator's ASGI application (connectors do not import a web framework)

CONNECTORS: dict[str, type[Connector]] = {
    AllSecureConnector.code: AllSecureConnector,
    MomoConnector.code: MomoConnector,
    PaypalConnector.code: PaypalConnector,
    SandboxConnector.code: SandboxConnector,
    SepayConnector.code: SepayConnector,
    StripeConnector.code: StripeConnector,
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


def emulator_app(code: str, options: dict[str, str]) -> ASGIApp:
    """The ASGI app of `code`'s emulator (`connectors/<code>/emulator.py`: `create_app`)."""
    if code not in CONNECTORS:
        raise UnknownConnector(code)
    try:
        module = importlib.import_module(f"payrelay.connectors.{code}.emulator")
    except ModuleNotFoundError:
        raise UnknownConnector(f"{code} has no emulator") from None
    app: ASGIApp = module.create_app(options)
    return app
