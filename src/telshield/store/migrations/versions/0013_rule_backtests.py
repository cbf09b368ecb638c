"""rule backtests: the last backtest of each rules version, for the rules page

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "rule_backtests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("rules_version", sa.String(length=128), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("label_lag", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_backtests")),
    )
    with op.batch_alter_table("rule_backtests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rule_backtests_rules_version_id"), ["rules_version", "id"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("rule_backtests")
