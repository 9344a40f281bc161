"""Audit checkpoints: signed heads of the chain in a file beside the master key, out of the database's reach."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from personvern.domain.audit import Checkpoint
from personvern.domain.errors import IntegrityBroken


def checkpoint_file(key_file: Path) -> Path:
    """Beside the key: whoever restores or rewrites the database alone leaves this file as it was."""
    return key_file.with_name(key_file.name + ".audit-checkpoints")


RESTORED = "restored "  # the prefix of a restore mark's line


def parse_line(line: str, key: bytes) -> tuple[Checkpoint, bool] | None:
    """A line's checkpoint and whether it is a restore mark, or None when its signature does not verify.

    A restore mark signs "restored" with the checkpoint, so a plain checkpoint line cannot be turned into one."""
    mark = line.startswith(RESTORED)
    checkpoint = Checkpoint.parse(line.removeprefix(RESTORED), _mark_key(key) if mark else key)
    return None if checkpoint is None else (checkpoint, mark)


def format_line(checkpoint: Checkpoint, key: bytes, mark: bool) -> str:
    return RESTORED + checkpoint.line(_mark_key(key)) if mark else checkpoint.line(key)


def _mark_key(key: bytes) -> bytes:
    return hmac.digest(key, b"personvern/restore-mark", "sha256")


def resigned_checkpoints(path: Path, old_key: bytes, new_key: bytes) -> tuple[str | None, int]:
    """The file's lines, restore marks kept as marks, signed under a new master key's key (a rotation,
    store/rotation.py), and how many; None when there is no file. A line not signed with the old key refuses it."""
    try:
        lines = path.read_text("ascii").splitlines()
    except FileNotFoundError:
        return None, 0
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = parse_line(line, old_key)
        if parsed is None:
            raise IntegrityBroken(f"line {number} of the audit checkpoint file {path} is not signed with the old key")
        out.append(format_line(parsed[0], new_key, parsed[1]))
    return "".join(line + "\n" for line in out), len(out)


class FileCheckpoints:
    """One line a checkpoint (chain id, seq, hash, time, HMAC), appended; the file is its owner's only (0600).

    After `personvern restore` puts an older database back, its chain is shorter than the checkpoints say: that is
    what a checkpoint is for, when nobody meant it. A restore therefore appends a restore mark (signed apart) with
    the restored head, and only the checkpoints after the last mark count.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self._path = path
        self._key = key

    def last(self, chain_id: str) -> Checkpoint | None:
        try:
            text = self._path.read_text("ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IntegrityBroken(f"the audit checkpoint file {self._path} cannot be read: {exc}") from None
        best: Checkpoint | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parsed = parse_line(line, self._key)
            if parsed is None:
                raise IntegrityBroken(
                    f"line {number} of the audit checkpoint file {self._path} is not signed with this master key"
                )
            checkpoint, mark = parsed
            # Other registers may share the key file's folder; only this chain's lines count.
            if checkpoint.chain_id == chain_id and (mark or best is None or checkpoint.seq >= best.seq):
                best = checkpoint
        return best

    def add(self, checkpoint: Checkpoint) -> str:
        return self._append(format_line(checkpoint, self._key, mark=False))

    def restored(self, checkpoint: Checkpoint) -> str:
        return self._append(format_line(checkpoint, self._key, mark=True))

    def _append(self, line: str) -> str:
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return line
