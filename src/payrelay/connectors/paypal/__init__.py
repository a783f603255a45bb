"""PayPal REST: Orders v2 checkout (approve, then capture or authorize), Payments v2 captures,
voids and refunds, webhooks verified by PayPal or by its certificate."""

from payrelay.connectors.paypal.connector import PaypalConnector

__all__ = ["PaypalConnector"]
