"""Migration 0007: the audit chain keyed under the master key, and its head sealed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:45:00

The columns start empty: a migration has no master key. `personvern init`, which runs the migrations, then
keys the chain (`SqlAuditLog.start`): a new register from its first entry, an existing one from an
`audit.keyed` entry after its unkeyed entries, which stay as they were.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("keyed_from", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("simulation", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("mac")
        batch_op.drop_column("simulation")
        batch_op.drop_column("keyed_from")
        batch_op.drop_column("chain_id")
