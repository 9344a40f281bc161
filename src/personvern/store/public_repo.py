"""SQL storage of the public page: web requests waiting for their code, answer links, and shared rate limits."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from personvern.domain.otp import AnswerLink, Challenge, PendingRequest
from personvern.store import tables as t
from personvern.store.crypto import Vault, open_sealed, seal
from personvern.store.repositories import KeyStore


def _digest(key: bytes, owner: str, code: str) -> str:
    # Bound to the row: a code's digest copied onto another row opens nothing there.
    return hmac.new(key, f"{owner}\x00{code}".encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """A link's secret as stored: 256 random bits need no key, a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()


class SqlPublicRequests:
    def __init__(self, conn: Connection, vault: Vault, keys: KeyStore) -> None:
        self._conn = conn
        self._vault = vault
        self._keys = keys

    def add(
        self, pending: PendingRequest, identity: Mapping[str, str], details: Mapping[str, Any] | None, code: str
    ) -> None:
        key, key_row = self._keys.new(pending.id, pending.created_at)
        cipher = AESGCM(key)
        self._conn.execute(insert(t.data_keys).values(**key_row))
        self._conn.execute(
            insert(t.public_requests).values(
                id=pending.id,
                type=pending.type,
                language=pending.language,
                via=pending.via,
                identity_ct=seal(cipher, f"public:{pending.id}:identity", json.dumps(dict(identity))),
                details_ct=None
                if details is None
                else seal(cipher, f"public:{pending.id}:details", json.dumps(dict(details))),
                code_digest=_digest(self._vault.code_key, pending.id, code),
                attempts=0,
                created_at=pending.created_at,
                expires_at=pending.challenge.expires_at,
            )
        )

    def get(self, pending_id: str, lock: bool = False) -> PendingRequest | None:
        q = select(t.public_requests).where(t.public_requests.c.id == pending_id)
        row = self._conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            return None
        challenge = Challenge(row.expires_at, row.attempts, row.code_digest is None)
        return PendingRequest(row.id, row.type, row.language, row.via, row.created_at, challenge, row.request_id)

    def _opened(self, pending_id: str, column: str) -> dict[str, Any] | None:
        blob = self._conn.execute(
            select(t.public_requests.c[column]).where(t.public_requests.c.id == pending_id)
        ).scalar()
        key = self._keys.get([pending_id]).get(pending_id)
        if blob is None or key is None:
            return None
        part = column.removesuffix("_ct")
        data: dict[str, Any] = json.loads(open_sealed(AESGCM(key), f"public:{pending_id}:{part}", blob))
        return data

    def identity(self, pending_id: str) -> dict[str, str] | None:
        return self._opened(pending_id, "identity_ct")

    def details(self, pending_id: str) -> dict[str, Any] | None:
        return self._opened(pending_id, "details_ct")

    def matches(self, pending_id: str, code: str) -> bool:
        stored = self._conn.execute(
            select(t.public_requests.c.code_digest).where(t.public_requests.c.id == pending_id)
        ).scalar()
        return stored is not None and hmac.compare_digest(stored, _digest(self._vault.code_key, pending_id, code))

    def failed(self, pending_id: str) -> None:
        c = t.public_requests.c
        self._conn.execute(update(t.public_requests).where(c.id == pending_id).values(attempts=c.attempts + 1))

    def confirmed(self, pending_id: str, at: datetime, request_id: str) -> None:
        """Used up: the code, the sealed identity and its key go; the row keeps only what happened when."""
        self._forget(pending_id, confirmed_at=at, request_id=request_id)

    def used_up(self, pending_id: str) -> None:
        self._forget(pending_id)

    def _forget(self, pending_id: str, **values: Any) -> None:
        self._conn.execute(
            update(t.public_requests)
            .where(t.public_requests.c.id == pending_id)
            .values(code_digest=None, identity_ct=None, details_ct=None, **values)
        )
        self._keys.delete(pending_id)

    def expire(self, before: datetime) -> int:
        """Rows whose code ended before `before`: unconfirmed ones are deleted with their key, confirmed ones
        stay as the trace of how the request came in (ids and times only)."""
        c = t.public_requests.c
        stale = list(
            self._conn.scalars(select(c.id).where(c.expires_at < before, c.request_id.is_(None)).order_by(c.id))
        )
        if stale:
            self._keys.delete_many(stale)
            self._conn.execute(delete(t.public_requests).where(c.id.in_(stale)))
        return len(stale)


class SqlAnswerLinks:
    def __init__(self, conn: Connection, vault: Vault) -> None:
        self._conn = conn
        self._vault = vault

    def add(self, link: AnswerLink, token: str) -> None:
        self._conn.execute(
            insert(t.answer_links).values(
                id=link.id,
                request_id=link.request_id,
                token_digest=token_digest(token),
                created_at=link.created_at,
                expires_at=link.expires_at,
                attempts=0,
            )
        )

    @staticmethod
    def _link(row: Any) -> AnswerLink:
        challenge = (
            None
            if row.code_expires_at is None
            else Challenge(row.code_expires_at, row.attempts, row.code_digest is None)
        )
        return AnswerLink(
            row.id, row.request_id, row.created_at, row.expires_at, challenge, row.fetched_at, row.closed_at
        )

    def by_token(self, token: str, lock: bool = False) -> AnswerLink | None:
        q = select(t.answer_links).where(t.answer_links.c.token_digest == token_digest(token))
        row = self._conn.execute(q.with_for_update() if lock else q).first()
        return None if row is None else self._link(row)

    def for_request(self, request_id: str) -> list[AnswerLink]:
        c = t.answer_links.c
        rows = self._conn.execute(select(t.answer_links).where(c.request_id == request_id).order_by(c.created_at))
        return [self._link(r) for r in rows]

    def new_code(self, link_id: str, code: str, expires_at: datetime) -> None:
        self._conn.execute(
            update(t.answer_links)
            .where(t.answer_links.c.id == link_id)
            .values(code_digest=_digest(self._vault.code_key, link_id, code), code_expires_at=expires_at, attempts=0)
        )

    def matches(self, link_id: str, code: str) -> bool:
        stored = self._conn.execute(select(t.answer_links.c.code_digest).where(t.answer_links.c.id == link_id)).scalar()
        return stored is not None and hmac.compare_digest(stored, _digest(self._vault.code_key, link_id, code))

    def failed(self, link_id: str) -> None:
        c = t.answer_links.c
        self._conn.execute(update(t.answer_links).where(c.id == link_id).values(attempts=c.attempts + 1))

    def fetched(self, link_id: str, at: datetime) -> None:
        self._conn.execute(
            update(t.answer_links)
            .where(t.answer_links.c.id == link_id)
            .values(fetched_at=at, closed_at=at, code_digest=None)
        )

    def close(self, link_id: str, at: datetime) -> None:
        self._conn.execute(
            update(t.answer_links).where(t.answer_links.c.id == link_id).values(closed_at=at, code_digest=None)
        )

    def ended(self, before: datetime) -> list[AnswerLink]:
        """Links not yet closed whose time ended before `before`."""
        c = t.answer_links.c
        rows = self._conn.execute(
            select(t.answer_links).where(c.closed_at.is_(None), c.expires_at < before).order_by(c.id)
        )
        return [self._link(r) for r in rows]


class SqlRateLimits:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def hit(self, key: str, window_start: datetime) -> int:
        """Count one hit in the window starting at `window_start` and return the window's count, in one statement
        (two processes counting at once both count: an upsert, never read-then-write)."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        c = t.rate_limits.c
        stmt = dialect.insert(t.rate_limits).values(key=key, window_start=window_start, hits=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                # A hit in a newer window starts it afresh; one in the same window adds to it.
                "hits": case((c.window_start == stmt.excluded.window_start, c.hits + 1), else_=1),
                "window_start": window_start,
            },
        ).returning(c.hits)
        hits: int = self._conn.execute(stmt).scalar_one()
        return hits

    def forget(self, before: datetime) -> int:
        return self._conn.execute(delete(t.rate_limits).where(t.rate_limits.c.window_start < before)).rowcount
