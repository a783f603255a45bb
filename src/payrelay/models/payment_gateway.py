from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Identity, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from payrelay.models.base import Model


class PaymentGateway(Model):
    """A merchant's account at one gateway. `config` holds credentials: never returned or logged.

    `code` is not constrained in the database: the connector registry is the list of gateways,
    so adding one never needs a migration.
    """

    __tablename__ = "payment_gateways"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'"))
    base_url: Mapped[str | None] = mapped_column(String(2048))
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
