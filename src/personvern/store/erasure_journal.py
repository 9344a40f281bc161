"""The erasure journal: every erasure's ids and time, appended to a signed file beside the master key.

Why: a backup restored after a disk failure holds everyone erased since it was made. Art. 17 does not end at
a restore; so each erasure is also written here, outside the database, and `personvern restore` erases again
everyone the journal names whose erasure the restored database does not hold (its receipt is absent).

What a line holds: the receipt id, the subject id, the time, the cause and the request id: ids and times only,
never a value (the journal is kept as long as the key, and longer than the data it names).

When it is written, and why so: an erasure commits with the rest of its transaction, and a file cannot take
part in that transaction. Written after the commit, a crash in between loses the line, and a restored backup
would bring that person back. Written before, a transaction that then rolls back (the retention sweep redoes a
failed batch one person at a time; a conflict; a crash) leaves a line for an erasure that never happened. So:

1. an `erase` line per receipt is written and fsync'd BEFORE the commit (a journal that cannot be written
   refuses the erasure: nobody is erased without the journal knowing);
2. a `commit` line naming the receipts is written AFTER the commit (the unit of work's after-commit action).

On restore an `erase` line counts (is "confirmed") when its commit line follows, or when its receipt is in the
database being replaced (the live one, read before it is replaced: the commit happened, the mark was lost). An
unconfirmed line whose receipt the live database does not hold was rolled back: it is skipped. When the live
database cannot be read at all (the disk failed), unconfirmed lines are replayed too: each names an erasure
that was decided (by the person's request, a retention rule or the signed review) and carried out up to its
commit, so erasing them errs on the side Art. 17 asks for; the restore reports how many were such.

Each line is signed (HMAC-SHA256 under a key derived from the master key): whoever can write the folder but has
no key cannot add lines that would erase people at the next restore. A line cut short by a crash while it was
written (not JSON) is skipped; a whole line that does not verify stops the restore.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from personvern.domain.erasure import ErasureReceipt
from personvern.domain.errors import IntegrityBroken, NotReady
from personvern.services.ports import JournaledErasure

VERSION = 1


def journal_file(key_file: Path) -> Path:
    """Beside the key, like the audit checkpoints: a restored database leaves it as it was."""
    return key_file.with_name(key_file.name + ".erasures")


def journal_key(backup_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"personvern/erasure-journal").derive(backup_key)


def _sign(key: bytes, body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    mac = hmac.digest(key, text.encode("ascii"), hashlib.sha256).hex()
    return json.dumps({**body, "mac": mac}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _torn(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


def _verified(key: bytes, line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("mac"), str):
        return None
    mac = data.pop("mac")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if not hmac.compare_digest(hmac.digest(key, text.encode("ascii"), hashlib.sha256).hex(), mac):
        return None
    return data


class FileErasureJournal:
    """The journal file (JSON lines, mode 0600, each append fsync'd); implements services.ports.ErasureJournal."""

    def __init__(self, path: Path, backup_key: bytes) -> None:
        self.path = path
        self._key = journal_key(backup_key)

    def _append(self, lines: Sequence[str]) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd).st_size
            # A line a crash cut short is ended first, so the lines after it stay whole (it is skipped on reading).
            start = "\n" if size and os.pread(fd, 1, size - 1) != b"\n" else ""
            os.write(fd, (start + "".join(line + "\n" for line in lines)).encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def intend(self, receipts: Sequence[ErasureReceipt]) -> Callable[[], None]:
        lines = [
            _sign(
                self._key,
                {
                    "v": VERSION,
                    "op": "erase",
                    "receipt": r.id,
                    "subject": r.subject_id,
                    "at": r.erased_at.isoformat(),
                    "cause": r.cause.value,
                    "request": r.request_id,
                },
            )
            for r in receipts
        ]
        try:
            self._append(lines)
        except OSError as exc:
            raise NotReady(
                f"the erasure journal {self.path} cannot be written ({exc.strerror}); nothing was erased"
            ) from None
        ids = [r.id for r in receipts]

        def committed() -> None:
            # The erasure is committed; without the mark a restore confirms it by the live database's receipts
            # (or, with no live database, replays it anyway): see the module's docstring.
            with contextlib.suppress(OSError):
                self._append([_sign(self._key, {"v": VERSION, "op": "commit", "receipts": ids})])

        return committed

    def entries(self) -> list[JournaledErasure]:
        """Every erasure the journal holds, oldest first; IntegrityBroken on a line not signed with this key."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise IntegrityBroken(f"the erasure journal {self.path} cannot be read ({exc.strerror})") from None
        lines = raw.split(b"\n")
        erased: dict[str, dict[str, Any]] = {}
        confirmed: set[str] = set()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            text = line.decode("ascii", "replace")
            if _torn(text):
                continue  # cut short by a crash: an erase line never committed, a commit mark leaves it unconfirmed
            data = _verified(self._key, text)
            if data is None:
                raise IntegrityBroken(
                    f"line {number} of the erasure journal {self.path} is not signed with this master key"
                )
            if data.get("op") == "erase":
                erased.setdefault(str(data["receipt"]), data)
            elif data.get("op") == "commit":
                confirmed.update(str(r) for r in data.get("receipts", []))
        return [
            JournaledErasure(
                receipt_id=rid,
                subject_id=str(d["subject"]),
                erased_at=datetime.fromisoformat(str(d["at"])),
                cause=str(d["cause"]),
                request_id=None if d.get("request") is None else str(d["request"]),
                confirmed=rid in confirmed,
            )
            for rid, d in erased.items()
        ]


def resigned_journal(path: Path, old_backup_key: bytes, new_backup_key: bytes) -> tuple[str | None, int]:
    """The journal's lines signed under a new master key's key (a rotation, store/rotation.py), or None when there
    is no journal; a line cut short by a crash is left out (it is skipped on reading anyway), a whole line not
    signed with the old key refuses the rotation."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, 0
    old, new = journal_key(old_backup_key), journal_key(new_backup_key)
    out: list[str] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        text = line.decode("ascii", "replace")
        if not text.strip() or _torn(text):
            continue
        data = _verified(old, text)
        if data is None:
            raise IntegrityBroken(f"line {number} of the erasure journal {path} is not signed with the old key")
        out.append(_sign(new, data))
    return "".join(line + "\n" for line in out), len(out)
