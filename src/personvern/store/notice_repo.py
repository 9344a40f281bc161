"""SQL store of the privacy notice's renderings: every version kept, found by its sha256 or as the current one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from personvern.services.ports import NoticeVersion
from personvern.store import tables as t


def _version(row: Any) -> NoticeVersion:
    return NoticeVersion(row.sha256, row.policy_sha256, row.language, row.format, row.text, row.created_at)


class SqlNoticeVersions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, notice: NoticeVersion) -> bool:
        c = t.notice_versions.c
        held = self._conn.execute(
            select(c.sha256).where(c.sha256 == notice.sha256, c.policy_sha256 == notice.policy_sha256)
        ).first()
        if held is not None:
            return False
        self._conn.execute(
            insert(t.notice_versions).values(
                sha256=notice.sha256,
                policy_sha256=notice.policy_sha256,
                language=notice.language,
                format=notice.format,
                text=notice.text,
                created_at=notice.created_at,
            )
        )
        return True

    def find(self, sha256_prefix: str) -> list[NoticeVersion]:
        c = t.notice_versions.c
        # A prefix of hexadecimal digits only (checked by the service), so LIKE needs no escaping.
        q = select(t.notice_versions).where(c.sha256.like(f"{sha256_prefix}%")).order_by(c.created_at, c.sha256)
        return [_version(r) for r in self._conn.execute(q)]

    def current(self, policy_sha256: str, language: str, format: str) -> NoticeVersion | None:
        row = self._conn.execute(_current(policy_sha256, language, format)).first()
        return _version(row) if row is not None else None

    def all(self) -> list[NoticeVersion]:
        c = t.notice_versions.c
        q = select(t.notice_versions).order_by(c.created_at.desc(), c.language, c.format, c.sha256)
        return [_version(r) for r in self._conn.execute(q)]


def _current(policy_sha256: str, language: str, format: str) -> Any:
    c = t.notice_versions.c
    return (
        select(t.notice_versions)
        .where(c.policy_sha256 == policy_sha256, c.language == language, c.format == format)
        .order_by(c.created_at.desc(), c.sha256)
        .limit(1)
    )


def current_notice_sha256(engine: Engine, policy_sha256: str, language: str, format: str = "md") -> str | None:
    """The sha256 of the notice published for the policy in force, read when the runtime opens."""
    with engine.connect() as conn:
        row = conn.execute(_current(policy_sha256, language, format)).first()
    return None if row is None else str(row.sha256)
