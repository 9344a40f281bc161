"""A migration that fails on `init` is reported as where the database stands, never as an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import ProgrammingError

from personvern import bootstrap
from personvern.bootstrap import Settings, initialise
from personvern.domain.errors import NotReady


def test_a_failed_migration_says_it_was_rolled_back_and_where_the_database_stands(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database as a failing migration leaves it: at the revision before (here: none yet).
    def failing(_engine: object) -> tuple[str | None, str]:
        raise ProgrammingError("CREATE TABLE public_requests", {}, Exception('relation "public_requests" exists'))

    monkeypatch.setattr(bootstrap, "upgrade", failing)
    settings = Settings.resolve(db_url, None, "ceo", environ={"PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "k")})
    with pytest.raises(NotReady) as refused:
        initialise(settings)
    message = str(refused.value)
    assert "failed and was rolled back" in message and 'relation "public_requests" exists' in message
    assert "personvern init" in message
