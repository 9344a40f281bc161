"""Migration 0012: every recipient covered: confirmations per request and recipient, exports, reconciliations.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recipient_confirmations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("confirm_by", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outbox_id", sa.String(32), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recipient_confirmations"),
    )
    op.create_index("ix_recipient_confirmations_request_id", "recipient_confirmations", ["request_id"])
    op.create_index("ix_recipient_confirmations_outbox_id", "recipient_confirmations", ["outbox_id"])
    op.create_index("ix_recipient_confirmations_open", "recipient_confirmations", ["state", "due_on"])
    op.create_table(
        "exports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("subjects", sa.Integer(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exports"),
    )
    op.create_table(
        "export_subjects",
        sa.Column("export_id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["exports.id"], name="fk_export_subjects_export_id_exports", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("export_id", "subject_id", name="pk_export_subjects"),
    )
    op.create_index("ix_export_subjects_subject", "export_subjects", ["subject_id"])
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("fix", sa.Boolean(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliations"),
    )
    op.create_index("ix_reconciliations_recipient", "reconciliations", ["recipient", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_reconciliations_recipient", table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_index("ix_export_subjects_subject", table_name="export_subjects")
    op.drop_table("export_subjects")
    op.drop_table("exports")
    op.drop_index("ix_recipient_confirmations_open", table_name="recipient_confirmations")
    op.drop_index("ix_recipient_confirmations_outbox_id", table_name="recipient_confirmations")
    op.drop_index("ix_recipient_confirmations_request_id", table_name="recipient_confirmations")
    op.drop_table("recipient_confirmations")
