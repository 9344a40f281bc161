"""Master-key rotation (store/rotation.py) on SQLite and PostgreSQL: every state a stop can leave, and what stays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from personvern.bootstrap import Runtime, Settings, initialise, open_runtime
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import IntegrityBroken, NotReady
from personvern.services import register
from personvern.services.admin import verify_audit
from personvern.services.erasure import erase_subject
from personvern.store import rotation
from personvern.store import tables as t
from personvern.store.checkpoints import FileCheckpoints, checkpoint_file
from personvern.store.crypto import Vault, read_master_key
from personvern.store.erasure_journal import FileErasureJournal, journal_file
from tests.conftest import NOW

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Stop(Exception):
    """A stand-in for the process dying between two transactions (the e2e test kills a real one)."""


def _people(rt: Runtime, n: int) -> dict[str, int]:
    """n people added through the register: each one's id, with the number their name and address carry."""
    ctx = rt.context()
    out = {}
    for i in range(n):
        values = {"full_name": f"Ola Hansen {i}", "phone": f"+47 9{i:07d}", "email": f"o{i}@eksempel.no"}
        out[register.add_subject(ctx, "one_time_customer", values, {}).id] = i
    return out


def _open(url: str) -> Runtime:
    return open_runtime(Settings.resolve(url, NOW, "ceo"))


def _check(url: str, people: dict[str, int]) -> None:
    """Every person opens, is found by their address (the blind index), and the chain verifies with checkpoints."""
    rt = _open(url)
    try:
        ctx = rt.context()
        for sid, i in people.items():
            assert register.show_subject(ctx, sid).values["full_name"] == f"Ola Hansen {i}"
            assert register.show_subject(ctx, email=f"o{i}@eksempel.no").subject.id == sid
        report = verify_audit(rt.uow, rt.actor, rt.checkpoints, rt.clock, rt.simulation)
        assert report.ok, report.problem
    finally:
        rt.close()


def _key_ids(rt: Runtime) -> set[str]:
    with rt.engine.connect() as conn:
        return set(conn.scalars(select(t.data_keys.c.master_key_id)))


def test_a_rotation_stopped_after_a_batch_is_not_served_and_goes_on(runtime: Runtime) -> None:
    people = _people(runtime, 7)
    url, key_file = runtime.settings.database_url, runtime.settings.key_file()
    old = runtime.uow.vault.key_id

    def stop_after_the_first(done: int) -> None:
        raise Stop(done)

    with pytest.raises(Stop):
        rotation.rotate(runtime.engine, key_file, AT, batch=3, progress=stop_after_the_first)
    state = rotation.key_state(runtime.engine)
    assert state.installed == old and state.rotating_to is not None
    assert _key_ids(runtime) == {old, state.rotating_to}
    with pytest.raises(NotReady, match=r"rotation to key id .* is under way"):
        _open(url)
    done = rotation.rotate(runtime.engine, key_file, AT, batch=3)
    assert done.resumed and done.new_key_id == state.rotating_to and done.rewrapped == 4 and done.keys == 7
    assert rotation.key_state(runtime.engine) == rotation.KeyState(done.new_key_id, None)
    assert _key_ids(runtime) == {done.new_key_id}
    done.retired_key_file.unlink()  # the old key destroyed
    _check(url, people)


def test_switched_but_the_files_not_moved_is_said_and_finished(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = _people(runtime, 2)
    url, key_file = runtime.settings.database_url, runtime.settings.key_file()
    with monkeypatch.context() as m, pytest.raises(Stop):
        m.setattr(rotation, "_swap_files", lambda *a: (_ for _ in ()).throw(Stop()))
        rotation.rotate(runtime.engine, key_file, AT)
    with pytest.raises(NotReady, match="was not moved into place: run `personvern keys rotate`"):
        _open(url)
    done = rotation.rotate(runtime.engine, key_file, AT)
    assert done.resumed and done.rewrapped == 0
    assert read_master_key(key_file) != read_master_key(done.retired_key_file)
    _check(url, people)


def test_the_new_key_lost_half_way_is_said_and_nothing_more_is_touched(runtime: Runtime) -> None:
    _people(runtime, 4)
    key_file = runtime.settings.key_file()

    def stop(done: int) -> None:
        raise Stop(done)

    with pytest.raises(Stop):
        rotation.rotate(runtime.engine, key_file, AT, batch=2, progress=stop)
    rotation.next_key_file(key_file).unlink()
    with pytest.raises(IntegrityBroken, match="is gone"):
        rotation.rotate(runtime.engine, key_file, AT)
    assert rotation.key_state(runtime.engine).rotating_to is not None


def test_the_journal_and_the_checkpoints_are_signed_anew(runtime: Runtime) -> None:
    people = _people(runtime, 3)
    gone = next(iter(people))
    ctx = runtime.context()
    with ctx.uow() as uow:
        erase_subject(ctx, uow, gone, cause=ErasureCause.REQUEST)
        uow.commit()
    del people[gone]
    key_file = runtime.settings.key_file()
    old = Vault(read_master_key(key_file))
    before = FileErasureJournal(journal_file(key_file), old.backup_key).entries()
    assert [e.subject_id for e in before] == [gone]
    verify_audit(runtime.uow, runtime.actor, runtime.checkpoints, runtime.clock, runtime.simulation)
    done = rotation.rotate(runtime.engine, key_file, AT)
    new = Vault(read_master_key(key_file))
    assert done.journal_lines == 2 and done.checkpoint_lines >= 1  # the erase line and its commit mark
    assert FileErasureJournal(journal_file(key_file), new.backup_key).entries() == before
    with pytest.raises(IntegrityBroken, match="not signed with this master key"):
        FileErasureJournal(journal_file(key_file), old.backup_key).entries()
    with pytest.raises(IntegrityBroken):
        FileCheckpoints(checkpoint_file(key_file), old.checkpoint_key).last("any")
    _check(runtime.settings.database_url, people)


def test_a_register_from_before_rotation_keeps_its_indexes_and_chain(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made as a register of the previous version was: no derivation secret stored, every key from the master key.
    with monkeypatch.context() as m:
        m.setattr("personvern.bootstrap.store_seed", lambda *a: None)
        rt, _ = initialise(Settings.resolve(db_url, NOW, "ceo"))
    try:
        people = _people(rt, 3)
        with rt.engine.connect() as conn:
            assert conn.execute(select(t.keystore_secrets)).all() == []
        key_file = rt.settings.key_file()
        first = read_master_key(key_file)
        done = rotation.rotate(rt.engine, key_file, AT)
        # Its derivation secret is now its first master key, kept wrapped under the second.
        assert rotation.stored_seed(rt.engine, Vault(read_master_key(key_file))) == first
        done.retired_key_file.unlink()
        _check(db_url, people)
        again = rotation.rotate(rt.engine, key_file, AT)  # and once more: the secret follows
        assert again.old_key_id == done.new_key_id and not again.resumed
        assert rotation.stored_seed(rt.engine, Vault(read_master_key(key_file))) == first
        _check(db_url, people)
    finally:
        rt.close()


def test_a_new_register_has_a_derivation_secret_of_its_own(runtime: Runtime) -> None:
    master = read_master_key(runtime.settings.key_file())
    seed = rotation.stored_seed(runtime.engine, Vault(master))
    assert seed is not None and seed != master and runtime.uow.vault.seed == seed


def test_a_wrong_key_file_is_refused_before_anything_is_written(runtime: Runtime) -> None:
    key_file = runtime.settings.key_file()
    other = key_file.with_name("other.key")
    other.write_text("11" * 32 + "\n")
    other.chmod(0o600)
    with pytest.raises(NotReady, match="is not the one this database belongs to"):
        rotation.rotate(runtime.engine, other, AT)
    assert not rotation.next_key_file(other).exists()
    assert rotation.key_state(runtime.engine).rotating_to is None


def test_keys_under_a_third_master_key_are_named_not_looped_over(runtime: Runtime) -> None:
    _people(runtime, 2)
    with runtime.engine.begin() as conn:
        conn.execute(
            t.data_keys.insert().values(
                owner_id="stranger", wrapped=b"x" * 60, master_key_id="feedfacefeedface", created_at=AT
            )
        )
    with pytest.raises(IntegrityBroken, match="1 under id feedfacefeedface"):
        rotation.rotate(runtime.engine, runtime.settings.key_file(), AT)
    assert rotation.key_state(runtime.engine).rotating_to is None  # refused before anything was begun


def test_a_tampered_journal_refuses_the_rotation_before_the_switch(runtime: Runtime) -> None:
    _people(runtime, 2)
    key_file = runtime.settings.key_file()
    journal_file(key_file).write_text('{"op":"erase","subject":"x","mac":"00"}\n')
    journal_file(key_file).chmod(0o600)
    with pytest.raises(IntegrityBroken, match="signed neither with the old master key nor with the new one"):
        rotation.rotate(runtime.engine, key_file, AT)
    state = rotation.key_state(runtime.engine)
    assert state.installed == runtime.uow.vault.key_id  # still the old key's: nothing half switched
    assert not rotation.retired_key_file(key_file, state.installed).exists()
