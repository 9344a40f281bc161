"""Audit checkpoints: signed heads of the chain in a file beside the master key, out of the database's reach."""

from __future__ import annotations

import os
from pathlib import Path

from personvern.domain.audit import Checkpoint
from personvern.domain.errors import IntegrityBroken


def checkpoint_file(key_file: Path) -> Path:
    """Beside the key: whoever restores or rewrites the database alone leaves this file as it was."""
    return key_file.with_name(key_file.name + ".audit-checkpoints")


class FileCheckpoints:
    """One line a checkpoint (chain id, seq, hash, time, HMAC), appended; the file is its owner's only (0600)."""

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
            checkpoint = Checkpoint.parse(line, self._key)
            if checkpoint is None:
                raise IntegrityBroken(
                    f"line {number} of the audit checkpoint file {self._path} is not signed with this master key"
                )
            # Other registers may share the key file's folder; only this chain's lines count.
            if checkpoint.chain_id == chain_id and (best is None or checkpoint.seq >= best.seq):
                best = checkpoint
        return best

    def add(self, checkpoint: Checkpoint) -> str:
        line = checkpoint.line(self._key)
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return line
