"""GOIP dens (窝点) and their members over time

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "dens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("county", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dens")),
    )
    with op.batch_alter_table("dens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dens_status_confidence"), ["status", "confidence"],
                              unique=False)
    op.create_table(
        "den_members",
        sa.Column("den_id", ID, nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("imei", sa.String(length=16), nullable=False),
        sa.Column("cell", sa.String(length=64), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["den_id"], ["dens.id"], ondelete="CASCADE",
                                name=op.f("fk_den_members_den_id_dens")),
        sa.PrimaryKeyConstraint("den_id", "msisdn", "role", name=op.f("pk_den_members")),
    )
    with op.batch_alter_table("den_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_den_members_msisdn"), ["msisdn"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("den_members")
    op.drop_table("dens")
