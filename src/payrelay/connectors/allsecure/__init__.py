"""AllSecure (IXOPAY Transaction API v3): card payments on AllSecure's payment page, with
authorize/capture, void, refunds, a status API and signed callbacks."""

from payrelay.connectors.allsecure.connector import AllSecureConnector

__all__ = ["AllSecureConnector"]
