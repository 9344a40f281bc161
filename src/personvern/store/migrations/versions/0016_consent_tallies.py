"""Migration 0016: consent statistics that outlive erasure: a tally of every consent event deleted (issue 14's
statistics counted only the ledger, so a month's figures fell when its people were erased or archived).

A trigger on `consent_events` adds each deleted event to `consent_tallies` (the hour it happened, purpose,
channel, action, method, a count: no subject, no id), also when it goes by the cascade from its subject. The
statistics count the ledger and the tallies together. Hours, not months: the controller's months start at hours
in UTC (Oslo's offsets are whole hours), so the tallies fall in the same months as the events did.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KEY = "hour, purpose, channel, action, method"


def upgrade() -> None:
    op.create_table(
        "consent_tallies",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "purpose", "channel", "action", "method", name="pk_consent_tallies"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION consent_events_tally() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO consent_tallies ({KEY}, events)
                VALUES (date_trunc('hour', OLD.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', OLD.purpose, OLD.channel,
                        OLD.action, OLD.method, 1)
                ON CONFLICT ({KEY}) DO UPDATE SET events = consent_tallies.events + 1;
                RETURN OLD;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER consent_events_tally BEFORE DELETE ON consent_events "
            "FOR EACH ROW EXECUTE FUNCTION consent_events_tally()"
        )
    else:
        # SQLite keeps the instant as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': its first 13 characters are the hour.
        op.execute(
            f"""
            CREATE TRIGGER consent_events_tally BEFORE DELETE ON consent_events
            BEGIN
                INSERT INTO consent_tallies ({KEY}, events)
                VALUES (substr(OLD.at, 1, 13) || ':00:00.000000', OLD.purpose, OLD.channel, OLD.action, OLD.method, 1)
                ON CONFLICT ({KEY}) DO UPDATE SET events = events + 1;
            END
            """
        )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS consent_events_tally"
        + (" ON consent_events" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS consent_events_tally()")
    op.drop_table("consent_tallies")
