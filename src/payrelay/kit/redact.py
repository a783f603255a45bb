"""The one choke point that masks secrets before anything reaches a log or the audit trail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

# A key is sensitive when its last word(s) name a secret: "secret_key", "X-Api-Key",
# "Stripe-Signature" are; "authorization_expires_at" and "token_type" are not.
_SENSITIVE = re.compile(
    r"^(.*_)?(password|passwd|secret|secrets|secret_key|access_key|private_key|token|apikey|api_key|key_hash|authorization|"
    r"signature|cookie|card_number|pan|cvc|cvv|cvv2|credentials?|config|dsn|database_url)$",
    re.IGNORECASE,
)
_INLINE_SECRETS = re.compile(r"(whsec_[A-Za-z0-9+/=]+|pr_(live|test)_[A-Za-z0-9_\-]+|Bearer\s+\S+)")


def is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE.match(key.replace("-", "_")))


def redact(value: Any) -> Any:
    """A copy of `value` with sensitive keys masked and inline secrets scrubbed from strings."""
    if isinstance(value, Mapping):
        return {
            str(key): MASK if is_sensitive_key(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _INLINE_SECRETS.sub(MASK, value)
    return value
