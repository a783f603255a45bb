"""Operations of kind `complete`: finishing a payment the customer approved at the gateway.

Revision ID: 7c41d2a9e0b3
Revises: 5a131ec5a9e6
Create Date: 2026-11-22 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c41d2a9e0b3"
down_revision: str | None = "5a131ec5a9e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "payment_operations_kind_valid"


def upgrade() -> None:
    op.drop_constraint(op.f(NAME), "payment_operations", type_="check")
    op.create_check_constraint(
        op.f(NAME),
        "payment_operations",
        "kind IN ('create', 'complete', 'capture', 'void', 'refund')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f(NAME), "payment_operations", type_="check")
    op.create_check_constraint(
        op.f(NAME), "payment_operations", "kind IN ('create', 'capture', 'void', 'refund')"
    )
