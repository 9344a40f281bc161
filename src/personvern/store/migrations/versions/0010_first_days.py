"""Migration 0010: the sweep's confirmation and holds, when the register first held data, imported proof of consent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A sweep the CEO ran (`retention run`) is the confirmation the worker waits for; a held row is a day on which
    # the worker did not sweep because more was due than it may do alone. Sweeps from before the flag are taken
    # as unconfirmed: the first unattended sweep after the upgrade waits for the CEO, as a new register's does.
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("due", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("allowed", sa.Integer(), nullable=True))

    # The annual review is owed only for years in which the register held data. The audit log's first
    # `subject.create` dates it exactly; the live, archived and erased records bound it where the log is younger.
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_data_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE installation SET first_data_at = (SELECT min(t) FROM ("
        "SELECT min(at) AS t FROM audit_log WHERE action = 'subject.create' "
        "UNION ALL SELECT min(created_at) FROM subjects "
        "UNION ALL SELECT min(archived_at) FROM archive_records "
        "UNION ALL SELECT min(erased_at) FROM erasure_receipts) AS firsts)"
    )

    # An imported consent states how it was given and where its proof lives (Art. 7(1)); the notice the person saw
    # may be unknown (a consent given before this register existed), so it may be empty, with the proof instead.
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column("notice_sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("proof_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_column("proof_ct")
    # The old schema cannot hold an unknown notice: such consents say so with zeros (their proof goes).
    op.execute(f"UPDATE consent_events SET notice_sha256 = '{'0' * 64}' WHERE notice_sha256 IS NULL")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column("notice_sha256", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_column("first_data_at")
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.drop_column("allowed")
        batch_op.drop_column("due")
        batch_op.drop_column("held")
        batch_op.drop_column("confirmed")
