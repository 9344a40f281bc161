"""The audit checkpoints' restore marks (store/checkpoints.py): a restore on purpose resets what counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from personvern.domain.audit import Checkpoint
from personvern.domain.errors import IntegrityBroken
from personvern.store.checkpoints import RESTORED, FileCheckpoints

KEY = b"k" * 32
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_only_the_checkpoints_after_the_last_restore_mark_count(tmp_path: Path) -> None:
    file = FileCheckpoints(tmp_path / "c", KEY)
    file.add(Checkpoint("chain", 40, "a" * 64, AT))
    file.add(Checkpoint("other", 90, "b" * 64, AT))  # another register's chain beside it
    assert file.last("chain") == Checkpoint("chain", 40, "a" * 64, AT)
    file.restored(Checkpoint("chain", 12, "c" * 64, AT))  # put back to entry 12 on purpose
    assert file.last("chain") == Checkpoint("chain", 12, "c" * 64, AT)
    file.add(Checkpoint("chain", 15, "d" * 64, AT))
    assert file.last("chain").seq == 15  # type: ignore[union-attr]
    assert file.last("other").seq == 90  # type: ignore[union-attr]


def test_a_plain_line_made_into_a_restore_mark_is_refused(tmp_path: Path) -> None:
    file = FileCheckpoints(tmp_path / "c", KEY)
    line = file.add(Checkpoint("chain", 40, "a" * 64, AT))
    with (tmp_path / "c").open("a") as f:
        f.write(RESTORED + line + "\n")  # whoever can write the folder, without the key
    with pytest.raises(IntegrityBroken, match="line 2"):
        file.last("chain")
