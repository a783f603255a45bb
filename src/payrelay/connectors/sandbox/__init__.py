"""The built-in sandbox gateway: hosted checkout served by payrelay, reached over HTTP."""

from payrelay.connectors.sandbox.connector import SandboxConnector

__all__ = ["SandboxConnector"]
