"""Migration 0004: the breach register and the privacy notice's versions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_versions",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "policy_sha256", name=op.f("pk_notice_versions")),
    )
    with op.batch_alter_table("notice_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_versions_current", ["policy_sha256", "language", "format", "created_at"], unique=False
        )

    op.create_table(
        "breaches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("relation", sa.Text(), nullable=True),
        sa.Column("people", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column("consequences", sa.Text(), nullable=True),
        sa.Column("measures_taken", sa.Text(), nullable=True),
        sa.Column("measures_planned", sa.Text(), nullable=True),
        sa.Column("data_location", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("risk", sa.String(length=16), nullable=True),
        sa.Column("risk_reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaches")),
    )
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breaches_deadline_at"), ["deadline_at"], unique=False)

    op.create_table(
        "breach_subjects",
        sa.Column("breach_id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_subjects_breach_id_breaches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("breach_id", "subject_id", name=op.f("pk_breach_subjects")),
    )

    op.create_table(
        "breach_notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("breach_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_notifications_breach_id_breaches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_notifications")),
    )
    with op.batch_alter_table("breach_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breach_notifications_breach_id"), ["breach_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("breach_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_notifications_breach_id"))
    op.drop_table("breach_notifications")
    op.drop_table("breach_subjects")
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breaches_deadline_at"))
    op.drop_table("breaches")
    with op.batch_alter_table("notice_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_versions_current")
    op.drop_table("notice_versions")
