"""Migration 0005: each subject's retention schedule (indexed), the annual reviews and the daily sweeps.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing subjects get retention_at NULL: never computed; `retention plan`, `run` and `review run`
    # compute those first, so an upgraded register is swept by the same rules as a new one.
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retain_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retain_action", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("retain_rule", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hold_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("hold_fields", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("retention_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_subjects_retain_until", ["retain_until", "id"], unique=False)
        batch_op.create_index("ix_subjects_hold_until", ["hold_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_subjects_retention_at"), ["retention_at"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.String(length=100), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_year"), ["year"], unique=False)

    op.create_table(
        "retention_sweeps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived", sa.Integer(), nullable=False),
        sa.Column("erased", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_sweeps")),
    )
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retention_sweeps_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_sweeps_day"))
    op.drop_table("retention_sweeps")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_year"))
    op.drop_table("reviews")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subjects_retention_at"))
        batch_op.drop_index("ix_subjects_hold_until")
        batch_op.drop_index("ix_subjects_retain_until")
        batch_op.drop_column("retention_at")
        batch_op.drop_column("hold_fields")
        batch_op.drop_column("hold_until")
        batch_op.drop_column("retain_rule")
        batch_op.drop_column("retain_action")
        batch_op.drop_column("retain_until")
