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
