"""SQL storage of staff users, console sessions and sign-in throttles, shared by every `serve` process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from personvern.domain.users import Session, Throttle, User
from personvern.store import tables as t


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        language=row.language,
        token_prefix=row.token_prefix,
        created_at=row.created_at,
        must_change_password=bool(row.must_change_password),
        disabled_at=row.disabled_at,
    )


class SqlUsers:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, user: User, password_hash: str, token_digest: str) -> None:
        self._conn.execute(
            t.users.insert().values(
                id=user.id,
                name=user.name,
                role=user.role,
                language=user.language,
                password_hash=password_hash,
                must_change_password=user.must_change_password,
                token_prefix=user.token_prefix,
                token_digest=token_digest,
                created_at=user.created_at,
                disabled_at=user.disabled_at,
            )
        )

    def get(self, user_id: str) -> User | None:
        row = self._conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row else None

    def by_name(self, name: str) -> tuple[User, str] | None:
        row = self._conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return (_user(row), row.password_hash) if row else None

    def by_token(self, digest: str) -> User | None:
        row = self._conn.execute(select(t.users).where(t.users.c.token_digest == digest)).first()
        return _user(row) if row else None

    def all(self) -> list[User]:
        return [_user(r) for r in self._conn.execute(select(t.users).order_by(t.users.c.name))]

    def set_token(self, user_id: str, prefix: str, digest: str) -> None:
        self._set(user_id, token_prefix=prefix, token_digest=digest)

    def set_password(self, user_id: str, password_hash: str, must_change: bool) -> None:
        self._set(user_id, password_hash=password_hash, must_change_password=must_change)

    def set_language(self, user_id: str, language: str) -> None:
        self._set(user_id, language=language)

    def disable(self, user_id: str, at: datetime) -> None:
        self._set(user_id, disabled_at=at)

    def _set(self, user_id: str, **values: Any) -> None:
        self._conn.execute(update(t.users).where(t.users.c.id == user_id).values(**values))


class SqlSessions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session: Session) -> None:
        self._conn.execute(
            t.sessions.insert().values(
                digest=session.digest,
                user_id=session.user_id,
                csrf=session.csrf,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
            )
        )

    def get(self, digest: str) -> Session | None:
        row = self._conn.execute(select(t.sessions).where(t.sessions.c.digest == digest)).first()
        if row is None:
            return None
        return Session(row.digest, row.user_id, row.csrf, row.created_at, row.last_seen_at)

    def touch(self, digest: str, at: datetime) -> None:
        self._conn.execute(update(t.sessions).where(t.sessions.c.digest == digest).values(last_seen_at=at))

    def end(self, digest: str) -> None:
        self._conn.execute(delete(t.sessions).where(t.sessions.c.digest == digest))

    def end_for_user(self, user_id: str) -> int:
        return self._conn.execute(delete(t.sessions).where(t.sessions.c.user_id == user_id)).rowcount

    def purge(self, idle_before: datetime, created_before: datetime) -> int:
        c = t.sessions.c
        gone = delete(t.sessions).where(or_(c.last_seen_at < idle_before, c.created_at < created_before))
        return self._conn.execute(gone).rowcount


class SqlThrottles:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> Throttle | None:
        row = self._conn.execute(select(t.throttles).where(t.throttles.c.key == key)).first()
        return Throttle(row.failures, row.last_failed_at) if row else None

    def fail(self, key: str, at: datetime) -> None:
        # One statement: two processes counting a failure at once both count (an upsert, not read-then-write).
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.throttles).values(key=key, failures=1, last_failed_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.throttles.c.key],
            set_={"failures": t.throttles.c.failures + 1, "last_failed_at": at},
        )
        self._conn.execute(stmt)

    def clear(self, key: str) -> None:
        self._conn.execute(delete(t.throttles).where(t.throttles.c.key == key))
