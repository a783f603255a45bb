"""Daily statistics kept incrementally.

Revision ID: d3f7a2c9e5b4
Revises: c2e6f1b8d4a3
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

revision: str = "d3f7a2c9e5b4"
down_revision: str | None = "c2e6f1b8d4a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
