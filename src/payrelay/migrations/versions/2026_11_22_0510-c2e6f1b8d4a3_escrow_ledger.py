"""Escrow: the split of each marketplace payment (commission, seller share, refunds).

Revision ID: c2e6f1b8d4a3
Revises: b1d5e0a7c3f2
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

revision: str = "c2e6f1b8d4a3"
down_revision: str | None = "b1d5e0a7c3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
