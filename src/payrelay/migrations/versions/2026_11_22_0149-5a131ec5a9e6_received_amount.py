"""Money received by transfer, summed per payment (bank-transfer gateways such as SePay).

Revision ID: 5a131ec5a9e6
Revises: e5dad4e75741
Create Date: 2026-11-22 01:49:25.815019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a131ec5a9e6"
down_revision: str | None = "e5dad4e75741"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payment_transactions",
        sa.Column(
            "received_amount",
            sa.Numeric(precision=19, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("payment_transactions_received_non_negative"),
        "payment_transactions",
        "received_amount >= 0",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("payment_transactions_received_non_negative"), "payment_transactions", type_="check"
    )
    op.drop_column("payment_transactions", "received_amount")
