"""Migration 0004: the breach register and the privacy notice's versions (filled in by the accountability work).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
