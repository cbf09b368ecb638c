"""indexes for the web overview's counts (alerts by detection time and tier, actions by time)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_detected_at_tier"), ["detected_at", "tier"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_is_open_tier"), ["is_open", "tier"],
                              unique=False)
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_at_kind"), ["at", "kind"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_at_kind"))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_is_open_tier"))
        batch_op.drop_index(batch_op.f("ix_alerts_detected_at_tier"))
