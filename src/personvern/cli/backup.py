"""`personvern backup` and `personvern restore`: an encrypted snapshot of the register, and putting one back.

A restore replaces the database, brings its schema up to date, erases again everyone the erasure journal says
was erased since the backup (Art. 17 outlives a restore), and walks the audit chain. Anything failing after the
swap puts the replaced database back: nothing is left half restored.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern import __version__
from personvern.bootstrap import Settings, clock_for
from personvern.cli.common import Env
from personvern.domain.access import Actor
from personvern.domain.errors import IntegrityBroken, NotReady, invalid
from personvern.services import keys
from personvern.services.admin import mark_restored, verify_audit
from personvern.services.backup import PERMISSION, may_back_up, record_backup, replay_erasures
from personvern.services.sweep import count_due
from personvern.store import backup as snap
from personvern.store.crypto import Vault, read_master_key
from personvern.store.engine import keystore_path, make_engine, sqlite_path, upgrade
from personvern.store.erasure_journal import FileErasureJournal, journal_file
from personvern.store.rotation import rewrap


def _kind(url: str) -> str:
    return "sqlite" if sqlite_path(url) is not None else "postgresql"


def backup(
    env: Env,
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (mode 0600; replaced if it exists).")],
    data_only: Annotated[
        bool, typer.Option("--data-only", help="The register without its key store (a backup to keep long).")
    ] = False,
    keys_only: Annotated[
        bool, typer.Option("--keys-only", help="The key store alone (a backup to keep short: README, Backups).")
    ] = False,
) -> None:
    """Write an encrypted, consistent snapshot of the register and its key store, with its manifest (time, schema,
    audit head); or of one of the two."""
    if data_only and keys_only:
        raise invalid("keys-only", "cannot be given with --data-only; leave both out for a backup of both stores")
    parts = ("register",) if data_only else ("keys",) if keys_only else snap.PARTS
    runtime = env.runtime()
    ctx = runtime.context()
    may_back_up(ctx)
    url = runtime.settings.database_url
    kind = _kind(url)
    if out.is_dir():
        raise invalid("out", f"{out} is a folder; name the backup file to write")
    if not out.parent.is_dir():
        raise invalid("out", f"the folder {out.parent} does not exist")
    vault = runtime.uow.vault
    folder = snap.prepare_folder(out.parent)
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    try:
        db = sqlite_path(url)
        if db is not None:
            # The register first, the keys after: a key is written before its data and deleted before it, so the
            # later copy of the keys holds a key for everything in the earlier copy of the data.
            ours = {"register": db, "keys": keystore_path(db)}
            shots = [snap.snapshot_sqlite(ours[part], folder, part) for part in parts]
        else:
            shots = snap.snapshot_postgresql(url, folder, parts)
        shot = shots[0] if shots[0].revision is not None else _register_head(url, folder)
        created = ctx.clock.now()
        manifest: dict[str, Any] = {
            "format": snap.FORMAT,
            "created_at": created.isoformat(),
            "personvern_version": __version__,
            "database": kind,
            "schema_revision": shot.revision,
            "audit_head": shot.audit_head,
            "master_key_id": vault.key_id,
            "stores": [
                {
                    "name": part,
                    "file": taken.file.name,
                    "bytes": taken.file.stat().st_size,
                    "sha256": snap.sha256_of(taken.file),
                }
                for part, taken in zip(parts, shots, strict=True)
            ],
        }
        archive = folder / "backup.tar"
        snap.pack(manifest, [taken.file for taken in shots], archive)
        for taken in shots:
            taken.file.unlink()  # the plain copies go as soon as they are packed
        size = snap.encrypt_file(archive, partial, vault.backup_key, vault.key_id)
        archive.unlink()
        os.replace(partial, out)
    except OSError as exc:
        raise invalid("out", f"the backup cannot be written ({exc.strerror})") from None
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    head = shot.audit_head or {}
    record_backup(
        ctx,
        {
            "created_at": manifest["created_at"],
            "database": kind,
            "schema_revision": shot.revision,
            "audit_seq": head.get("seq"),
            "bytes": size,
            "stores": list(parts),
        },
    )
    data = {"file": str(out), "bytes": size, **{k: manifest[k] for k in ("created_at", "database", "schema_revision")}}
    data["stores"] = list(parts)
    data["audit_head"] = shot.audit_head

    def human(c: Console) -> None:
        what = {"register": "the register", "keys": "the key store"}
        c.print(f"backup written: {out} ({size} bytes, encrypted)", markup=False)
        c.print(f"  holds {' and '.join(what[part] for part in parts)}", markup=False)
        c.print(
            f"  made at {manifest['created_at']}, schema {shot.revision}, audit entry {head.get('seq')}", markup=False
        )
        c.print("  keep it with the master key's backup apart; the erasure journal stays beside the key", markup=False)

    env.emit(data, human)


def _register_head(url: str, folder: Path) -> snap.Snapshot:
    """A keys-only backup still names the register's schema revision and audit head, read from the live register
    (what the key store belongs to)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revision, head = snap._head_of(conn)
    finally:
        engine.dispose()
    return snap.Snapshot(folder, revision, head)


def restore(
    env: Env,
    file: Annotated[Path, typer.Argument(help="The backup file `personvern backup` wrote.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the database without asking.")] = False,
    made_with: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="The master key the backup was made under, when a rotation has replaced it since "
            "(KEYFILE.retired-ID); the restored key store is re-wrapped under the current key.",
        ),
    ] = None,
) -> None:
    """Replace the database with a backup, erase again whoever was erased since, and verify the audit chain."""
    settings = env.settings()
    Actor(settings.actor, settings.role).require(PERMISSION)
    url = settings.database_url
    kind = _kind(url)
    key_file = settings.key_file()
    vault = Vault(read_master_key(key_file))
    if made_with is not None and not made_with.is_file():
        raise invalid("key-file", f"no key file at {made_with}")
    then = Vault(read_master_key(made_with)) if made_with is not None else vault
    db = sqlite_path(url)
    if db is not None and not db.parent.is_dir():
        raise invalid("db", f"the folder {db.parent} does not exist")
    folder = snap.prepare_folder(db.parent if db is not None else None)
    try:
        snap.decrypt_file(file, folder / "backup.tar", then.backup_key, then.key_id)
        manifest, files = snap.unpack(folder / "backup.tar", folder)
        (folder / "backup.tar").unlink()
        _check(manifest, kind, then, file)
        # Read before anything changes: a journal that does not verify refuses the restore with nothing done.
        entries = FileErasureJournal(journal_file(key_file), vault.backup_key).entries()
        live = snap.live_receipts(url)
        if not yes and not typer.confirm(
            f"Replace the database at {url} with the backup made {manifest['created_at']}?", default=False, err=True
        ):
            raise NotReady("the restore was not confirmed; nothing was changed")
        # The parts the backup holds replace theirs; a part it does not hold stays as it is (a data backup kept
        # long restored with the newest key-store backup, each by its own `restore`).
        swaps: list[snap.SqliteSwap | snap.PostgresSwap] = []
        try:
            for part in (p for p in snap.PARTS if p in files):
                if db is not None:
                    swaps.append(snap.SqliteSwap(db if part == "register" else keystore_path(db), files[part]))
                else:
                    swaps.append(snap.PostgresSwap(url, files[part], folder, live is not None, part))
            data = _after_swap(env, settings, manifest, entries, live, (then, vault))
        except BaseException:
            env.close()
            for swap in reversed(swaps):
                swap.undo()
            raise
        env.close()
        for swap in swaps:
            swap.done()
        data["stores"] = [p for p in snap.PARTS if p in files]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    env.emit(data, lambda c: _print_restore(c, data))


def _check(manifest: dict[str, Any], kind: str, vault: Vault, file: Path) -> None:
    if manifest.get("format") != snap.FORMAT:
        raise invalid("FILE", f"{file} has a manifest of format {manifest.get('format')!r}; this version reads 1")
    if manifest.get("master_key_id") != vault.key_id:
        raise snap.WrongKey(f"{file} was made under another master key (id {manifest.get('master_key_id')})")
    if manifest.get("database") != kind:
        raise invalid("FILE", f"{file} is a backup of a {manifest.get('database')} register; this one is {kind}")
    revision = manifest.get("schema_revision")
    if not isinstance(revision, str) or not snap.known_revision(revision):
        raise invalid(
            "FILE",
            f"{file} was made by a newer personvern (schema {revision}, unknown here; this version's newest is "
            f"{snap.newest_revision()}): upgrade personvern first",
        )


def _after_swap(
    env: Env,
    settings: Settings,
    manifest: dict[str, Any],
    entries: Any,
    live: set[str] | None,
    keys_then_now: tuple[Vault, Vault],
) -> dict[str, Any]:
    then, now = keys_then_now
    engine = make_engine(settings.database_url)
    rewrapped = 0
    try:
        before, after = upgrade(engine)  # a backup of an older version: its migrations run now
        if then.key_id != now.key_id:
            # Made before a master-key rotation: its key store is wrapped under the old key. Re-wrapped now,
            # before the register is opened, so it opens with the current key file (and a failure undoes the swap).
            rewrapped = rewrap(engine, then, now, clock_for(settings).now())
    finally:
        engine.dispose()
    runtime = env.runtime()
    restored = snap.live_receipts(settings.database_url) or set()
    head = manifest.get("audit_head") or {}
    details = {
        "backup_created_at": manifest["created_at"],
        "backup_schema_revision": manifest["schema_revision"],
        "backup_audit_seq": head.get("seq"),
    }
    replay = replay_erasures(runtime.context(), entries, restored, live, details)
    # Keys of owners the restored register does not hold (a key store newer than its data) open nothing: gone.
    swept = keys.sweep(runtime.context())
    # Archiving is not journaled: the policy and the clock say again who is due (a person archived since the
    # backup is due again now), and the worker's daily run, or `retention run`, archives them again.
    due = count_due(runtime.context())
    chain = verify_audit(runtime.uow, runtime.actor, None, None, runtime.simulation)
    if not chain.ok:
        raise IntegrityBroken(f"the restored audit chain is broken at entry {chain.broken_at}: {chain.problem}")
    # What the checkpoints said before was true of the database replaced; this one was put back on purpose.
    mark_restored(runtime.uow, runtime.checkpoints, runtime.clock, runtime.actor)
    checked = verify_audit(runtime.uow, runtime.actor, runtime.checkpoints, runtime.clock, runtime.simulation)
    return {
        "restored": settings.database_url,
        "backup_created_at": manifest["created_at"],
        "schema_revision": {"backup": before, "now": after},
        "erased_again": replay.erased,
        "keys": {"orphans_deleted": swept.orphans, "subjects_without_key": swept.keyless, "rewrapped": rewrapped},
        "journal": {
            "entries": len(entries),
            "in_backup": replay.in_backup,
            "not_in_backup": replay.not_in_backup,
            "rolled_back": replay.rolled_back,
            "unconfirmed_replayed": replay.unconfirmed,
        },
        "requests_settled": replay.requests_settled,
        "retention_due": due,
        "audit": {
            "ok": checked.ok,
            "entries": checked.checked,
            "problem": checked.problem,
            "restored_at": clock_for(settings).now().isoformat(),
        },
    }


def _print_restore(c: Console, data: dict[str, Any]) -> None:
    j, audit = data["journal"], data["audit"]
    c.print(f"restored {data['restored']} from the backup made {data['backup_created_at']}", markup=False)
    revisions = data["schema_revision"]
    if revisions["backup"] != revisions["now"]:
        c.print(f"  schema upgraded from {revisions['backup']} to {revisions['now']}", markup=False)
    c.print(
        f"  erased again: {len(data['erased_again'])} (erasure journal: {j['entries']} entries, {j['in_backup']} "
        f"already in the backup, {j['rolled_back']} rolled back and skipped, {j['unconfirmed_replayed']} "
        "unconfirmed and replayed)",
        markup=False,
    )
    if data["retention_due"]:
        c.print(
            f"  due for archiving or erasure now: {data['retention_due']} (those archived since the backup among "
            "them): the worker's daily run carries it out, or `personvern retention run`",
            markup=False,
        )
    if data["requests_settled"]:
        c.print(
            f"  erasure requests fulfilled since the backup, closed as completed: {len(data['requests_settled'])}",
            markup=False,
        )
    if data["keys"]["rewrapped"]:
        c.print(
            f"  key store made under an earlier master key: {data['keys']['rewrapped']} data keys re-wrapped under "
            "the current one",
            markup=False,
        )
    if data["keys"]["orphans_deleted"] or data["keys"]["subjects_without_key"]:
        c.print(
            f"  key store: {data['keys']['orphans_deleted']} keys of owners not in the register deleted, "
            f"{data['keys']['subjects_without_key']} subjects without a key (their values no longer open)",
            markup=False,
        )
    if audit["ok"]:
        c.print(f"  audit chain intact: {audit['entries']} entries verified", markup=False)
    else:
        c.print(
            f"  audit chain intact to entry {audit['entries']}; against its checkpoints: {audit['problem']}",
            markup=False,
        )
