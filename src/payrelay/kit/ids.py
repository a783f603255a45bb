"""Identifiers: time-ordered UUIDs for rows, random tokens for keys and references."""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import datetime

import uuid_utils.compat as uuid_compat

_REFERENCE_ALPHABET = string.ascii_uppercase + string.digits


def new_id() -> uuid.UUID:
    """UUIDv7: unique and ordered by creation time, so B-tree inserts stay local."""
    return uuid_compat.uuid7()


def random_token(length: int, alphabet: str = _REFERENCE_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def order_reference(created_at: datetime, user_id: str | None) -> str:
    """`{date}-{user_id}-{random}` as the marketplace document defines it."""
    return f"{created_at:%Y%m%d}-{user_id or '0'}-{random_token(10)}"
