"""clue bundles: a police clue's related numbers proposed for disposal (线索关联号码)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "clue_bundles",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("clue_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("case_ref", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clue_bundles")),
        sa.UniqueConstraint("clue_id", name=op.f("uq_clue_bundles_clue_id")),
    )
    with op.batch_alter_table("clue_bundles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clue_bundles_status_created_at"),
                              ["status", "created_at"], unique=False)
    op.create_table(
        "clue_bundle_members",
        sa.Column("bundle_id", ID, nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["bundle_id"], ["clue_bundles.id"], ondelete="CASCADE",
                                name=op.f("fk_clue_bundle_members_bundle_id_clue_bundles")),
        sa.PrimaryKeyConstraint("bundle_id", "msisdn", name=op.f("pk_clue_bundle_members")),
    )
    with op.batch_alter_table("clue_bundle_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clue_bundle_members_msisdn"), ["msisdn"],
                              unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("clue_bundle_members")
    op.drop_table("clue_bundles")
