"""Keys, hashes and HMAC signatures. Every comparison is constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def generate_api_key(prefix: str = "pr_live_") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex: API keys have 256 bits of entropy, so a fast hash is the right tool."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def constant_time_equals(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


def standard_webhooks_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`, where the
    secret is `whsec_<base64 key>`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def body_signature_hex(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body keyed with the whole secret string: what
    spatie/laravel-webhook-client's default validator checks in the `Signature` header."""
    return hmac_sha256_hex(secret.encode(), body)
