"""Migration 0013: the public privacy page: web requests and their codes, answer links, rate limits, cookie
choices, and the demo's message sink.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("identity_ct", sa.LargeBinary(), nullable=True),
        sa.Column("details_ct", sa.LargeBinary(), nullable=True),
        sa.Column("code_digest", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_public_requests"),
    )
    op.create_index("ix_public_requests_expires_at", "public_requests", ["expires_at"])
    op.create_table(
        "answer_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_digest", sa.String(64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_answer_links"),
        sa.UniqueConstraint("token_digest", name="uq_answer_links_token_digest"),
    )
    op.create_index("ix_answer_links_request_id", "answer_links", ["request_id"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limits"),
    )
    op.create_table(
        "cookie_consents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("visitor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("banner_version", sa.String(64), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cookie_consents"),
    )
    op.create_index("ix_cookie_consents_visitor", "cookie_consents", ["visitor"])
    op.create_index("ix_cookie_consents_at", "cookie_consents", ["at"])
    op.create_table(
        "demo_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("outbox_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("subject_line", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_demo_messages"),
    )
    op.create_index("ix_demo_messages_at", "demo_messages", ["at"])


def downgrade() -> None:
    op.drop_index("ix_demo_messages_at", table_name="demo_messages")
    op.drop_table("demo_messages")
    op.drop_index("ix_cookie_consents_at", table_name="cookie_consents")
    op.drop_index("ix_cookie_consents_visitor", table_name="cookie_consents")
    op.drop_table("cookie_consents")
    op.drop_table("rate_limits")
    op.drop_index("ix_answer_links_request_id", table_name="answer_links")
    op.drop_table("answer_links")
    op.drop_index("ix_public_requests_expires_at", table_name="public_requests")
    op.drop_table("public_requests")
