"""SePay: bank transfers with a payment code, reported by webhook (Vietnam, VND)."""

from payrelay.connectors.sepay.connector import SepayConnector

__all__ = ["SepayConnector"]
