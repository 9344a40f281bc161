"""Migration 0014: the data keys move to a key store apart from the data (issue 17, item 1).

On SQLite the key store is the file FILE.keys beside the register, attached to every connection as `keystore`
(store/engine.py); on PostgreSQL the schema `keystore` of the same database. Every key is copied (moved in place on
PostgreSQL), the counts are compared, and the old table is dropped, in the migration's one transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KEYSTORE = "keystore"
COLUMNS = "owner_id, wrapped, master_key_id, created_at"


def _columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", name="pk_data_keys"),
    ]


def _count(bind: sa.Connection, table: str) -> int:
    return int(bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {KEYSTORE}")
    if sa.inspect(bind).has_table("data_keys", schema=KEYSTORE):
        # A key store left beside a register older than this migration holds no key of it (its keys are still in
        # its own table): one kept from a later register whose older backup was restored, or a reused file name.
        # Its keys open nothing of this register; the ones that do are moved in below.
        op.drop_table("data_keys", schema=KEYSTORE)
    held = _count(bind, "data_keys")
    if postgresql:
        op.execute(f"ALTER TABLE data_keys SET SCHEMA {KEYSTORE}")  # in place, in this transaction
    else:
        op.create_table("data_keys", *_columns(), schema=KEYSTORE)
        op.execute(f"INSERT INTO {KEYSTORE}.data_keys ({COLUMNS}) SELECT {COLUMNS} FROM main.data_keys")
    moved = _count(bind, f"{KEYSTORE}.data_keys")
    if moved != held:
        raise RuntimeError(f"the key store holds {moved} keys after the move, the register held {held}")
    if not postgresql:
        op.drop_table("data_keys")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {KEYSTORE}.data_keys SET SCHEMA public")
        return
    op.create_table("data_keys", *_columns())
    op.execute(f"INSERT INTO main.data_keys ({COLUMNS}) SELECT {COLUMNS} FROM {KEYSTORE}.data_keys")
    op.drop_table("data_keys", schema=KEYSTORE)
