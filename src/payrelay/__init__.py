"""payrelay: a self-hosted payment service between a merchant's application and its gateways."""

__version__ = "0.1.0"
