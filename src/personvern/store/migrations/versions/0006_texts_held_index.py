"""Migration 0006: a partial index on the messages whose text is still held, for the worker's daily forgetting.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Without it `UPDATE messages SET text_ct = NULL WHERE created_at < cutoff AND text_ct IS NOT NULL` walks
    # every message older than the cutoff (almost all already without text) on every pass of the worker.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_text_held",
            ["created_at"],
            unique=False,
            sqlite_where=sa.text("text_ct IS NOT NULL"),
            postgresql_where=sa.text("text_ct IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_text_held")
