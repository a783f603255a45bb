from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class ApiKey(Model):
    """(+) A merchant's API key. Only its SHA-256 hash is stored, never the key."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant_id", "merchant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(CHAR(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("""'["payments"]'"""))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
