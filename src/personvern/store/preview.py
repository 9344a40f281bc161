"""A moved clock on a real register: every statement that would change anything but the audit log is refused."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, event

from personvern.domain.errors import ClockMoved

# The flag a unit of work sets in its connection's info while the clock is moved on a real register.
PREVIEW = "personvern.preview"

REFUSAL = (
    "--now (or PERSONVERN_NOW) moves the clock, and this register is a real one (initialised without --now): "
    "nothing may be changed on a moved clock, or records would be archived, erased or dated by a time that is "
    "not now. --now is accepted here only for previews (`retention plan`, `request list`, `subject show`, …); "
    "leave it out to act now, or simulate on a register initialised with --now"
)

# An allow-list, not a deny-list: a statement of a kind not named here counts as a write.
_READ = re.compile(r"\s*(SELECT|PRAGMA|SET|SHOW|BEGIN|SAVEPOINT|RELEASE|ROLLBACK|COMMIT)\b", re.IGNORECASE)
_CTE = re.compile(r"\s*WITH\b", re.IGNORECASE)
_CTE_WRITE = re.compile(r"\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|MERGE\s+INTO)\b", re.IGNORECASE)
# Reads are audited (GDPR Art. 5(2)): a preview still appends its entries to the chain.
_AUDIT = re.compile(r"\s*(INSERT\s+INTO\s+audit_log\b|UPDATE\s+audit_head\b)", re.IGNORECASE)
# On PostgreSQL the entries and the head's move go as one statement (SqlAuditLog.flush): exactly that shape.
_AUDIT_CTE = re.compile(
    r"\s*WITH\s+entries\s+AS\s+\(INSERT\s+INTO\s+audit_log\s+\([\w\s,]+\)\s+VALUES\s+[(%s,\s)]+\)"
    r"\s+UPDATE\s+audit_head\s+SET\s+seq\s+=\s+%s,\s+hash\s+=\s+%s,\s+mac\s+=\s+%s\s+WHERE\s+id\s+=\s+1\s*",
    re.IGNORECASE,
)


def allowed(statement: str) -> bool:
    """Whether a preview may run the statement: a read, or an entry appended to the audit chain."""
    if _READ.match(statement) or _AUDIT.match(statement) or _AUDIT_CTE.fullmatch(statement):
        return True
    return bool(_CTE.match(statement)) and not _CTE_WRITE.search(statement)


def check(conn: Connection, statement: str) -> None:
    """Refuse `statement` if the connection is a preview's and the statement would change the register."""
    if conn.info.get(PREVIEW) and not allowed(statement):
        raise ClockMoved(REFUSAL)


def _before_cursor_execute(
    conn: Connection, _cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
) -> None:
    check(conn, statement)


def watch(engine: Engine) -> None:
    """Check every statement the engine runs; a no-op lookup unless a unit of work marked its connection."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
