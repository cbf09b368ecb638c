"""offnet reports: suspected numbers we do not hold, for the operator they belong to

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "offnet_reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=True),
        sa.Column("list_entry_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offnet_reports")),
        sa.UniqueConstraint("msisdn", name=op.f("uq_offnet_reports_msisdn")),
    )
    with op.batch_alter_table("offnet_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offnet_reports_party"), ["party"], unique=False)
        batch_op.create_index(batch_op.f("ix_offnet_reports_updated_at"), ["updated_at"],
                              unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("offnet_reports")
