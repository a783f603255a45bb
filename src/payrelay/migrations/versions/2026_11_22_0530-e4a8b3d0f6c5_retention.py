"""Retention: monthly partitions and archive tables.

Revision ID: e4a8b3d0f6c5
Revises: d3f7a2c9e5b4
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

revision: str = "e4a8b3d0f6c5"
down_revision: str | None = "d3f7a2c9e5b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
