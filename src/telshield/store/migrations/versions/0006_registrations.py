"""registration checks (入网核验) and staff IDs suspended from registering

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEXED = (("id_hash", "decision"), ("staff_id", "at"), ("terminal_id", "at"),
           ("address_hash", "at"), ("contact", "at"), ("ip", "at"), ("device_id", "at"))


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "registration_checks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("holder_kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_checks")),
    )
    with op.batch_alter_table("registration_checks", schema=None) as batch_op:
        for cols in INDEXED:
            batch_op.create_index(batch_op.f(f"ix_registration_checks_{'_'.join(cols)}"),
                                  list(cols), unique=False)
    op.create_table(
        "staff_suspensions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_suspensions")),
    )
    with op.batch_alter_table("staff_suspensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_suspensions_staff_id"), ["staff_id"],
                              unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("staff_suspensions")
    op.drop_table("registration_checks")
