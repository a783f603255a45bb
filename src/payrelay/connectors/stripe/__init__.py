"""Stripe: hosted Checkout Sessions, PaymentIntents and Refunds, signed webhooks."""

from payrelay.connectors.stripe.connector import StripeConnector

__all__ = ["StripeConnector"]
