"""MoMo Payment Platform, AIO v2: wallet payments with a hosted pay page and signed IPNs."""

from payrelay.connectors.momo.connector import MomoConnector

__all__ = ["MomoConnector"]
