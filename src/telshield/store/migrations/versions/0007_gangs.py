"""card-trafficking gangs (开卡贩卡团伙) and their member cards

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "gangs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("cards", sa.Integer(), nullable=False),
        sa.Column("ids", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gangs")),
    )
    with op.batch_alter_table("gangs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gangs_status_score"), ["status", "score"],
                              unique=False)
    op.create_table(
        "gang_members",
        sa.Column("gang_id", ID, nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["gang_id"], ["gangs.id"], ondelete="CASCADE",
                                name=op.f("fk_gang_members_gang_id_gangs")),
        sa.PrimaryKeyConstraint("gang_id", "msisdn", name=op.f("pk_gang_members")),
    )
    with op.batch_alter_table("gang_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gang_members_msisdn"), ["msisdn"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("gang_members")
    op.drop_table("gangs")
