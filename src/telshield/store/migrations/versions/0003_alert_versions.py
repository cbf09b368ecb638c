"""alert versions: one open alert per number updated in place, its changes kept as versions

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration: new columns, the versions table, and each stored alert as its
    own first version (alerts stored before this keep their rows as they were)."""
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                      server_default=sa.text("1")))
        batch_op.add_column(sa.Column("first_seen", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_seen", sa.DateTime(), nullable=True))
    op.execute("UPDATE alerts SET first_seen = window_end, last_seen = window_end")
    op.create_table(
        "alert_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"],
                                name=op.f("fk_alert_versions_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_versions")),
    )
    with op.batch_alter_table("alert_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_versions_alert_id"), ["alert_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_alert_versions_msisdn"), ["msisdn"], unique=False)
    op.execute(
        "INSERT INTO alert_versions (alert_id, msisdn, version, score, tier, reasons, features, "
        "detected_at, window_end, model_version, rules_version) SELECT id, msisdn, 1, score, "
        "tier, reasons, features, detected_at, window_end, model_version, rules_version "
        "FROM alerts"
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("alert_versions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("last_seen")
        batch_op.drop_column("first_seen")
        batch_op.drop_column("version")
