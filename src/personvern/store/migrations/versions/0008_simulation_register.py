"""Migration 0008: whether the register is a simulation (initialised with --now) or a real one.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A register made before the flag existed is taken as a real one: refusing a moved clock on synthetic
    # data costs a re-init, accepting it on real records could erase people years early.
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("simulation", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_column("simulation")
