"""Migration 0015: what a master-key rotation needs: the register's own secret in the key store, and the key a
rotation under way is moving to (issue 17, item 3).

`keystore.secrets` holds the derivation secret wrapped under the master key: the blind-index, audit-chain,
link and one-time-code keys come from it, so a new master key re-wraps one row instead of changing every blind
index and the audit chain's history. A register older than this migration has no row: its secret is its first
master key, stored at its first rotation. `installation.rotating_to` is set while `personvern keys rotate` runs:
a register half re-wrapped is not served.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KEYSTORE = "keystore"


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
        schema=KEYSTORE,
    )
    with op.batch_alter_table("installation") as batch:
        batch.add_column(sa.Column("rotating_to", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installation") as batch:
        batch.drop_column("rotating_to")
    op.drop_table("secrets", schema=KEYSTORE)
