"""Master-key rotation: the key store re-wrapped under a new master key in batches, and the files beside it re-signed.

Why a rotation touches so little: a value is sealed under its owner's data key, and only the data keys (and the
register's derivation secret) are wrapped under the master key. So a new master key means unwrapping and
wrapping 32 bytes per owner, never decrypting a value; the blind indexes and the audit chain are keyed by the
derivation secret (store/crypto.py), which stays, so neither changes. Backups, the erasure journal and the audit
checkpoints are keyed by the master key: the journal and the checkpoints are re-signed; a backup made before
the rotation opens only with the old key file (`personvern restore --key-file`).

The steps, each safe to stop at (`kill -9`) and run again:

1. the new key is written to KEYFILE.next (0600, fsync'd) and the installation records `rotating_to`; from then
   on the register is not served (bootstrap refuses to open it), so nothing wraps a key under the old master;
2. batches of data keys are re-wrapped, each batch its own transaction; `data_keys.master_key_id` says which
   are done, so a second run goes on where the first stopped;
3. the erasure journal and the checkpoints are checked: every line must verify under the old key (or, for a
   file an earlier run moved already, the new one);
4. one transaction checks that no key is left under the old master, re-wraps the derivation secret, and
   records the new key as the installation's;
5. the old key is kept as KEYFILE.retired-OLDID (for the backups made before); the journal and the checkpoints
   are re-signed, each through FILE.next and a rename, and the new key is moved into place. A run that finds the
   database switched but the files not moved finishes step 5.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from personvern.domain.errors import IntegrityBroken, NotReady
from personvern.store import tables as t
from personvern.store.checkpoints import checkpoint_file, resigned_checkpoints
from personvern.store.crypto import Vault, create_master_key, master_key_id, read_master_key
from personvern.store.erasure_journal import journal_file, resigned_journal

SEED = "derivation"  # the derivation secret's row in keystore.secrets
BATCH = 5000


def _secret_owner(name: str) -> str:
    """The authenticated data a secret is wrapped with: it cannot pass for a data key, nor one secret for another."""
    return "secret:" + name


def next_key_file(key_file: Path) -> Path:
    """Where a rotation writes the new master key until it is moved into place."""
    return key_file.with_name(key_file.name + ".next")


def retired_key_file(key_file: Path, key_id: str) -> Path:
    """Where a rotation keeps the master key it replaced: backups made before it open only with this file."""
    return key_file.with_name(f"{key_file.name}.retired-{key_id}")


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".next")


@dataclass(frozen=True)
class KeyState:
    installed: str | None  # the master key id the register belongs to
    rotating_to: str | None  # set while a rotation is under way


def key_state(engine: Engine) -> KeyState:
    with engine.connect() as conn:
        row = conn.execute(
            select(t.installation.c.master_key_id, t.installation.c.rotating_to).where(t.installation.c.id == 1)
        ).first()
    return KeyState(None, None) if row is None else KeyState(row[0], row[1])


def stored_seed(engine: Engine, vault: Vault) -> bytes | None:
    """The register's derivation secret, unwrapped; None for a register that stored none (it uses its master key)."""
    with engine.connect() as conn:
        wrapped = conn.execute(select(t.keystore_secrets.c.wrapped).where(t.keystore_secrets.c.name == SEED)).scalar()
    return None if wrapped is None else vault.unwrap(_secret_owner(SEED), wrapped)


def store_seed(conn: Connection, vault: Vault, seed: bytes, at: datetime) -> None:
    """Keep `seed` as the derivation secret, wrapped under `vault`'s master key, unless one is kept already."""
    wrapped = vault.wrap(_secret_owner(SEED), seed)
    row = {"name": SEED, "wrapped": wrapped, "master_key_id": vault.key_id, "created_at": at}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(t.keystore_secrets).values(**row).on_conflict_do_nothing(index_elements=["name"]))


def opening_refusal(state: KeyState, key_file: Path, vault: Vault) -> NotReady | None:
    """Why a register cannot be served with this key file while a rotation is under way or unfinished, if so."""
    if state.installed != vault.key_id:
        pending = next_key_file(key_file)
        if pending.exists() and _key_id_of(pending) == state.installed:
            return NotReady(
                f"a master-key rotation switched this register to key id {state.installed}, but the new key file "
                f"{pending} was not moved into place: run `personvern keys rotate` to finish it"
            )
        return None  # a wrong key file: the caller says so
    if state.rotating_to is not None:
        return NotReady(
            f"a master-key rotation to key id {state.rotating_to} is under way and not finished: run `personvern keys "
            "rotate` again (it goes on where it stopped); the register is not served until it is done"
        )
    return None


def _key_id_of(path: Path) -> str | None:
    try:
        return master_key_id(read_master_key(path))
    except NotReady:
        return None


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    rewrapped: int  # data keys re-wrapped by this run
    keys: int  # data keys in the store now, all under the new master key
    resumed: bool  # this run went on with a rotation an earlier run began
    seconds: float
    retired_key_file: Path
    journal_lines: int  # erasure journal lines re-signed
    checkpoint_lines: int  # audit checkpoint lines re-signed


Progress = Callable[[int], None]


def rotate(
    engine: Engine, key_file: Path, at: datetime, batch: int = BATCH, progress: Progress | None = None
) -> Rotation:
    """Rotate the register's master key to a new one (or finish a rotation begun); see the module's steps."""
    started = time.perf_counter()
    state = key_state(engine)
    if state.installed is None:
        raise NotReady("the database is not initialised; run `personvern init`")
    pending = next_key_file(key_file)
    old = Vault(read_master_key(key_file))
    if old.key_id != state.installed:
        if state.rotating_to is None and pending.exists() and _key_id_of(pending) == state.installed:
            new = Vault(read_master_key(pending))
            journal, checkpoints = _swap_files(key_file, old, new)
            return Rotation(
                old.key_id, new.key_id, 0, count_keys(engine), True, time.perf_counter() - started,
                retired_key_file(key_file, old.key_id), journal, checkpoints,
            )  # fmt: skip
        raise NotReady(
            f"the master key in {key_file} (id {old.key_id}) is not the one this database belongs to "
            f"(id {state.installed}); use that key file"
        )
    resumed = state.rotating_to is not None
    if not pending.exists():
        if resumed:
            raise IntegrityBroken(
                f"a rotation to master key id {state.rotating_to} was begun, but its key file {pending} is gone: the "
                "data keys already re-wrapped under it no longer open. Put that file back (from where the disk's "
                "backup keeps it) and run `personvern keys rotate` again"
            )
        create_master_key(pending)
    new = Vault(read_master_key(pending))
    if new.key_id == old.key_id:
        raise NotReady(f"{pending} holds the master key in use: it is no new key; delete it and run again")
    if resumed and new.key_id != state.rotating_to:
        raise IntegrityBroken(
            f"{pending} holds master key id {new.key_id}, but the rotation under way is to id {state.rotating_to}: "
            "put the key file it began with back"
        )
    _refuse_strangers(engine, old, new)
    with engine.begin() as conn:
        conn.execute(update(t.installation).where(t.installation.c.id == 1).values(rotating_to=new.key_id))
        # A register made before rotation existed derives its database-side keys from this master key: that
        # becomes its derivation secret, kept wrapped, so the blind indexes and the chain stay as they are.
        store_seed(conn, old, old.seed, at)
    done, tries = 0, 0
    while True:
        done += _rewrap_all(engine, old, new, batch, progress, done)
        if tries:
            _refuse_strangers(engine, old, new)  # the switch found keys: keys the batches move, or strangers
        tries += 1
        # Checked before the switch, written after it: a journal or checkpoint file that does not verify refuses
        # the rotation while the register still belongs to the old key, not half-way through the files.
        _resign_files(key_file, old, new, write=False)
        if _switch(engine, old, new):
            break
    journal, checkpoints = _swap_files(key_file, old, new)
    return Rotation(
        old.key_id, new.key_id, done, count_keys(engine), resumed, time.perf_counter() - started,
        retired_key_file(key_file, old.key_id), journal, checkpoints,
    )  # fmt: skip


def rewrap(engine: Engine, old: Vault, new: Vault, at: datetime, batch: int = BATCH) -> int:
    """Re-wrap a whole key store from `old` to `new` and make `new` the installation's key, straight through (a
    restored backup made before a rotation, while the register is not served); how many data keys moved."""
    with engine.begin() as conn:
        store_seed(conn, old, old.seed, at)
    done = _rewrap_all(engine, old, new, batch, None, 0)
    if not _switch(engine, old, new):
        raise IntegrityBroken("keys were written under the old master key while the restored key store was re-wrapped")
    return done


def _rewrap_all(engine: Engine, old: Vault, new: Vault, batch: int, progress: Progress | None, before: int) -> int:
    """Every data key still under `old`, re-wrapped under `new`, `batch` keys a transaction, in key order (the
    primary key's index, so the store is read once however often a run is resumed)."""
    k = t.data_keys
    moved, after = 0, ""
    change = (
        update(k)
        .where(k.c.owner_id == bindparam("o"), k.c.master_key_id == old.key_id)
        .values(wrapped=bindparam("w"), master_key_id=new.key_id)
    )
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(k.c.owner_id, k.c.wrapped)
                .where(k.c.owner_id > after, k.c.master_key_id == old.key_id)
                .order_by(k.c.owner_id)
                .limit(batch)
            ).all()
            if not rows:
                return moved
            # Unwrapped and wrapped again in memory: the data key never leaves the process, no value is opened.
            conn.execute(change, [{"o": o, "w": new.wrap(o, old.unwrap(o, w))} for o, w in rows])
        moved += len(rows)
        after = rows[-1][0]
        if progress is not None:
            progress(before + moved)


def _refuse_strangers(engine: Engine, old: Vault, new: Vault) -> None:
    """Keys under a third master key (a key store brought from another register, or one left by a server that
    outlived an earlier rotation) are neither moved nor openable here: say which, rather than loop."""
    k = t.data_keys
    with engine.connect() as conn:
        rows = conn.execute(
            select(k.c.master_key_id, func.count())
            .where(k.c.master_key_id.not_in([old.key_id, new.key_id]))
            .group_by(k.c.master_key_id)
        ).all()
    if rows:
        found = ", ".join(f"{n} under id {key_id}" for key_id, n in rows)
        raise IntegrityBroken(
            f"the key store holds data keys wrapped under neither the old master key nor the new one ({found}): "
            "they do not open with this register's key. Rotate them from the key file they were made under, or "
            "delete them (`personvern keys sweep` deletes the ones whose owner is gone), then run "
            "`personvern keys rotate` again"
        )


def _switch(engine: Engine, old: Vault, new: Vault) -> bool:
    """The last step, one transaction: no key left under `old` (else False: a process still serving wrapped one
    since, and the batches run again), the derivation secret re-wrapped, `new` recorded as the installation's key."""
    with engine.begin() as conn:
        # The installation's row first: on SQLite the transaction already holds the write lock (BEGIN IMMEDIATE);
        # on PostgreSQL the key store is locked against new keys until the switch commits.
        conn.execute(update(t.installation).where(t.installation.c.id == 1).values(rotating_to=new.key_id))
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"LOCK TABLE {t.KEYSTORE}.data_keys IN EXCLUSIVE MODE"))
        k = t.data_keys
        if conn.execute(select(k.c.owner_id).where(k.c.master_key_id != new.key_id).limit(1)).first() is not None:
            return False
        s = t.keystore_secrets
        for name, wrapped, key_id in conn.execute(select(s.c.name, s.c.wrapped, s.c.master_key_id)).all():
            if key_id == new.key_id:
                continue
            owner = _secret_owner(name)
            conn.execute(
                update(s)
                .where(s.c.name == name)
                .values(wrapped=new.wrap(owner, old.unwrap(owner, wrapped)), master_key_id=new.key_id)
            )
        conn.execute(
            update(t.installation).where(t.installation.c.id == 1).values(master_key_id=new.key_id, rotating_to=None)
        )
    return True


def count_keys(engine: Engine) -> int:
    """The data keys in the store (what a rotation has to re-wrap at most)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.data_keys)).scalar_one())


Resign = Callable[[Path, Vault, Vault], tuple[str | None, int]]


def _resign_files(key_file: Path, old: Vault, new: Vault, write: bool) -> tuple[int, int]:
    """The erasure journal and the audit checkpoints re-signed under the new key (written when `write`, through
    FILE.next and a rename); the lines in each. A file already signed under the new key (a run stopped after
    moving it) is left as it is. Re-read at the last moment: a line a server still running appended meanwhile
    is kept (and re-signed)."""
    counts: list[int] = []
    files: list[tuple[Path, Resign]] = [
        (journal_file(key_file), lambda p, a, b: resigned_journal(p, a.backup_key, b.backup_key)),
        (checkpoint_file(key_file), lambda p, a, b: resigned_checkpoints(p, a.checkpoint_key, b.checkpoint_key)),
    ]
    for path, resign in files:
        try:
            content, lines = resign(path, old, new)
        except IntegrityBroken:
            try:
                _content, lines = resign(path, new, new)  # moved into place by an earlier run already
            except IntegrityBroken:
                raise IntegrityBroken(
                    f"{path} is signed neither with the old master key nor with the new one: it was changed by "
                    "someone without the key; nothing was rotated past this point"
                ) from None
            counts.append(lines)
            continue
        counts.append(lines)
        if write and content is not None:
            _write_pending(path, content)
            os.replace(_pending(path), path)
    return counts[0], counts[1]


def _write_pending(path: Path, content: str) -> None:
    """`content` into PATH.next (0600, fsync'd), to be renamed over PATH."""
    target = _pending(path)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _swap_files(key_file: Path, old: Vault, new: Vault) -> tuple[int, int]:
    """Step 5: keep the old key, re-sign the files beside it and move the new key into place; the lines re-signed."""
    retired = retired_key_file(key_file, old.key_id)
    if not retired.exists():
        content = key_file.read_bytes()
        fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    counts = _resign_files(key_file, old, new, write=True)
    os.replace(next_key_file(key_file), key_file)
    folder = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the renames themselves durable before the old key may be destroyed
    finally:
        os.close(folder)
    return counts
