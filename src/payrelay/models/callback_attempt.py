from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class CallbackAttempt(Model):
    """(+) One try at delivering a callback: what the merchant's endpoint answered, or why not."""

    __tablename__ = "callback_attempts"
    __table_args__ = (Index("ix_callback_attempts_callback_id", "callback_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    callback_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_callbacks.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    callback_url: Mapped[str] = mapped_column(Text)
    response_status: Mapped[int | None]
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
