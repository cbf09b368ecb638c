"""police coordination (警企协同): units, requests, responses, clue feedback

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "police_units",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_police_units")),
    )
    op.create_table(
        "police_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("legal_doc", sa.String(length=500), nullable=False),
        sa.Column("case_ref", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("prepared_by", sa.String(length=128), nullable=False),
        sa.Column("prepared_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_police_requests")),
    )
    with op.batch_alter_table("police_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_police_requests_unit_id"), ["unit", "id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_police_requests_status_deadline"),
                              ["status", "deadline"], unique=False)
    op.create_table(
        "police_responses",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("html_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["police_requests.id"],
                                name=op.f("fk_police_responses_request_id_police_requests")),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_police_responses")),
    )
    op.create_table(
        "police_clue_feedback",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("clue_id", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_police_clue_feedback")),
    )
    with op.batch_alter_table("police_clue_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_police_clue_feedback_clue_id"), ["clue_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_police_clue_feedback_unit"), ["unit"],
                              unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("police_clue_feedback")
    op.drop_table("police_responses")
    op.drop_table("police_requests")
    op.drop_table("police_units")
