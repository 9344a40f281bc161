"""Backups' mechanics: a consistent snapshot of each store, packed with a manifest, encrypted under the master key.

The file: a header (magic, format, the master key's id, a random file id, the chunk size), then the packed
tar (manifest.json first, then one file per store) in chunks of at most CHUNK bytes, each sealed with AES-256-GCM
under a key derived from the master key and the file id, with the chunk's index and a last-chunk flag in the
associated data: a chunk changed, reordered, dropped or added, or a file cut short, fails to open. Nothing is
used from a backup before all of it has opened, so memory stays at one chunk whatever the register's size.

The manifest lists the stores the backup holds: the register (the data) and the key store (the data keys, apart
since migration 0014), both by default, or one of them (`backup --data-only`, `--keys-only`): data backups may
be kept long and key-store backups short, so that an erased person's data in an old data backup has no key left
anywhere once the short-lived key backups have gone (README, "Backups").
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL, make_url

from personvern.domain.errors import IntegrityBroken, NotReady, invalid
from personvern.store import tables as t

MAGIC = b"PVBACKUP"
FORMAT = 1
CHUNK = 1 << 20  # 1 MiB of plaintext a chunk
_HEADER = struct.Struct(">8sB16s16sI")  # magic, format, master key id (hex), file id, chunk size
_LENGTH = struct.Struct(">I")
NONCE = 12
MANIFEST = "manifest.json"
STORE_FILES = {"sqlite": "register.sqlite", "postgresql": "register.pgdump"}
KEY_FILES = {"sqlite": "keys.sqlite", "postgresql": "keys.pgdump"}
PARTS = ("register", "keys")  # the stores' names in a manifest, in the order they are snapshot
KEYSTORE = t.KEYSTORE


class WrongKey(NotReady):
    """The backup was made under another master key: another register's, or an older key."""


# ---------------------------------------------------------------- the encrypted container


def _file_key(backup_key: bytes, file_id: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=file_id, info=b"personvern/backup-archive").derive(backup_key)
    return AESGCM(key)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


def encrypt_file(plain: Path, out: Path, backup_key: bytes, key_id: str) -> int:
    """Seal `plain` into `out` (created 0600, must not exist); returns the bytes written."""
    file_id = os.urandom(16)
    header = _HEADER.pack(MAGIC, FORMAT, key_id.encode("ascii")[:16].ljust(16, b"0"), file_id, CHUNK)
    cipher = _file_key(backup_key, file_id)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    written = 0
    with os.fdopen(fd, "wb") as sink, plain.open("rb") as source:
        sink.write(header)
        written += len(header)
        index = 0
        piece = source.read(CHUNK)
        while True:
            following = source.read(CHUNK)
            last = not following
            nonce = os.urandom(NONCE)
            sealed = nonce + cipher.encrypt(nonce, piece, _aad(header, index, last))
            sink.write(_LENGTH.pack(len(sealed)) + sealed)
            written += _LENGTH.size + len(sealed)
            if last:
                break
            piece, index = following, index + 1
        sink.flush()
        os.fsync(sink.fileno())
    return written


def decrypt_file(sealed: Path, out: Path, backup_key: bytes, key_id: str) -> None:
    """Open a backup into `out`; WrongKey for another register's, IntegrityBroken for a damaged or cut one."""
    try:
        source = sealed.open("rb")
    except FileNotFoundError:
        raise invalid("FILE", f"no backup at {sealed}") from None
    except IsADirectoryError:
        raise invalid("FILE", f"{sealed} is a folder, not a backup file") from None
    except OSError as exc:
        raise invalid("FILE", f"{sealed} cannot be read ({exc.strerror})") from None
    with source, out.open("wb") as sink:
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size or header[:8] != MAGIC:
            raise invalid("FILE", f"{sealed} is not a personvern backup")
        _magic, version, made_with, file_id, chunk = _HEADER.unpack(header)
        if version != FORMAT:
            raise invalid("FILE", f"{sealed} is a backup of format {version}; this version reads format {FORMAT}")
        if made_with.decode("ascii", "replace") != key_id:
            made = made_with.decode("ascii", "replace")
            raise WrongKey(
                f"{sealed} was made under master key id {made}, but the key file given is id {key_id}: a backup made "
                f"before a master-key rotation opens with the key of then (`--key-file KEYFILE.retired-{made}`); "
                "otherwise it is another register's backup"
            )
        cipher = _file_key(backup_key, file_id)
        index = 0
        while True:
            length = source.read(_LENGTH.size)
            if len(length) < _LENGTH.size:
                raise IntegrityBroken(f"the backup {sealed} is cut short (it ends before its last part)")
            (size,) = _LENGTH.unpack(length)
            if not NONCE + 16 <= size <= chunk + NONCE + 16:
                raise IntegrityBroken(f"the backup {sealed} is damaged (part {index + 1} has an impossible length)")
            blob = source.read(size)
            if len(blob) < size:
                raise IntegrityBroken(f"the backup {sealed} is cut short (part {index + 1} is incomplete)")
            piece, last = _open_chunk(cipher, header, index, blob, sealed)
            sink.write(piece)
            if last:
                break
            index += 1
        if source.read(1):
            raise IntegrityBroken(f"the backup {sealed} is damaged (there is data after its last part)")


def _open_chunk(cipher: AESGCM, header: bytes, index: int, blob: bytes, name: Path) -> tuple[bytes, bool]:
    for last in (False, True):
        try:
            return cipher.decrypt(blob[:NONCE], blob[NONCE:], _aad(header, index, last)), last
        except InvalidTag:
            continue
    raise IntegrityBroken(f"the backup {name} is damaged or was changed (part {index + 1} fails its integrity check)")


# ---------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Snapshot:
    """One store's consistent copy, and what it held at that instant."""

    file: Path
    revision: str | None
    audit_head: dict[str, Any] | None


def _head_of(conn: Any) -> tuple[str | None, dict[str, Any] | None]:
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    h = t.audit_head.c
    row = conn.execute(select(h.chain_id, h.seq, h.hash).where(h.id == 1)).first()
    head = None if row is None else {"chain_id": row.chain_id, "seq": int(row.seq), "hash": row.hash}
    return revision, head


def snapshot_sqlite(db: Path, folder: Path, part: str = "register") -> Snapshot:
    """SQLite's online backup API: a consistent copy while the register stays in use; read from the copy itself.

    `part` "keys": the key store's file (FILE.keys) instead. Each file is consistent in itself; the caller takes
    the register first and the keys after, so that the keys hold every key of the data backed up (a key is
    written before its data and deleted before it).
    """
    copy = folder / (STORE_FILES if part == "register" else KEY_FILES)["sqlite"]
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    if part != "register":
        return Snapshot(copy, None, None)
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as conn:
            revision, head = _head_of(conn)
    finally:
        engine.dispose()
    return Snapshot(copy, revision, head)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as libpq takes it, and the environment carrying its password (never argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = URL.create("postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    return plain.render_as_string(hide_password=False), env


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise NotReady(f"`{name}` is not on PATH; install the PostgreSQL client tools (Debian: postgresql-client)")
    return found


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise NotReady(f"{what} failed: {detail[-1] if detail else f'exit {done.returncode}'}")


def snapshot_postgresql(url: str, folder: Path, parts: tuple[str, ...] = PARTS) -> list[Snapshot]:
    """pg_dump of the register's schema and of the key store's (`keystore`), each to a file of its own, both in the
    very snapshot in which the revision and audit head are read: the two parts are of one instant."""
    conninfo, env = libpq(url)
    pg_dump = tool("pg_dump")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            exported = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            revision, head = _head_of(conn)
            shots = []
            for part in parts:
                dump = folder / (STORE_FILES if part == "register" else KEY_FILES)["postgresql"]
                which = f"--exclude-schema={KEYSTORE}" if part == "register" else f"--schema={KEYSTORE}"
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={exported}",
                        "--no-owner",
                        "--no-privileges",
                        which,
                        f"--file={dump}",
                        f"--dbname={conninfo}",
                    ],
                    env,
                    "pg_dump",
                )
                shots.append(Snapshot(dump, revision, head))
            conn.rollback()
    finally:
        engine.dispose()
    return shots


# ---------------------------------------------------------------- packing


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(manifest: dict[str, Any], files: list[Path], out: Path) -> None:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        body = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(body), 0o600
        tar.addfile(info, io.BytesIO(body))
        for file in files:
            tar.add(file, arcname=file.name, recursive=False)


def unpack(archive: Path, folder: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest and each store's file, checked against the manifest's digests; only the expected names."""
    if not tarfile.is_tarfile(archive):
        raise IntegrityBroken("the backup opens but holds no readable archive")
    with tarfile.open(archive, "r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
        if MANIFEST not in members or not members[MANIFEST].isfile():
            raise IntegrityBroken("the backup holds no manifest")
        reader = tar.extractfile(members[MANIFEST])
        assert reader is not None
        try:
            manifest = json.loads(reader.read())
        except ValueError:
            raise IntegrityBroken("the backup's manifest is not JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("stores"), list):
            raise IntegrityBroken("the backup's manifest lists no stores")
        files: dict[str, Path] = {}
        for store in manifest["stores"]:
            name = str(store.get("file", ""))
            member = members.get(name)
            known = (*STORE_FILES.values(), *KEY_FILES.values())
            if name not in known or store.get("name") not in PARTS or member is None or not member.isfile():
                raise IntegrityBroken(f"the backup's manifest names a store file it does not hold ({name!r})")
            target = folder / name
            source = tar.extractfile(member)
            assert source is not None
            with target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            if sha256_of(target) != store.get("sha256"):
                raise IntegrityBroken(f"the backup's {name} is not the one its manifest describes")
            files[str(store.get("name"))] = target
    return manifest, files


def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("personvern.store") / "migrations"))
    return ScriptDirectory.from_config(cfg)


def newest_revision() -> str:
    return str(_scripts().get_current_head())


def known_revision(revision: str) -> bool:
    """Whether this version's migrations know `revision` (a newer version's is unknown here)."""
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic's ResolutionError (and kin) for an id its scripts do not hold
        return False


# ---------------------------------------------------------------- putting a snapshot in place


def live_receipts(url: str) -> set[str] | None:
    """The erasure receipts of the database about to be replaced; None when it cannot be read (gone, damaged)."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {str(r) for r in conn.execute(select(t.erasure_receipts.c.id)).scalars()}
    except Exception:  # any failure to read means: no live database to confirm against
        return None
    finally:
        engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _sidecars(db: Path) -> Iterator[Path]:
    for suffix in ("-wal", "-shm", "-journal"):
        yield db.with_name(db.name + suffix)


class SqliteSwap:
    """The snapshot put in the register's place; the file it replaced kept aside until `done`, back on `undo`."""

    def __init__(self, db: Path, snapshot: Path) -> None:
        self.db = db
        self.kept = db.with_name(db.name + ".before-restore")
        fd, name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".restoring", dir=db.parent)
        os.close(fd)
        staged = Path(name)
        os.chmod(staged, 0o600)
        shutil.copyfile(snapshot, staged)
        check = sqlite3.connect(staged)
        try:
            ok = check.execute("PRAGMA quick_check").fetchone()
        finally:
            check.close()
        if ok is None or ok[0] != "ok":
            staged.unlink()
            raise IntegrityBroken("the backup's SQLite database fails its integrity check")
        self._had = db.exists()
        if self._had:
            for path in (self.kept, *_sidecars(self.kept)):
                path.unlink(missing_ok=True)
            for source, target in zip((db, *_sidecars(db)), (self.kept, *_sidecars(self.kept)), strict=True):
                if source.exists():
                    os.replace(source, target)
        os.replace(staged, db)

    def undo(self) -> None:
        for path in (self.db, *_sidecars(self.db)):
            path.unlink(missing_ok=True)
        if self._had:
            for source, target in zip((self.kept, *_sidecars(self.kept)), (self.db, *_sidecars(self.db)), strict=True):
                if source.exists():
                    os.replace(source, target)

    def done(self) -> None:
        for path in (self.kept, *_sidecars(self.kept)):
            path.unlink(missing_ok=True)


def _restore_script(dump: Path, folder: Path, name: str) -> Path:
    """The dump as one SQL script, without the `public` schema itself (it is dropped and made afresh); a dump of
    the key store keeps its CREATE SCHEMA (the schema is dropped before the script makes it again)."""
    pg_restore = tool("pg_restore")
    listing = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise IntegrityBroken("the backup's PostgreSQL dump cannot be read by pg_restore")
    keep = [line for line in listing.stdout.splitlines() if " SCHEMA - public " not in line]
    items = folder / f"{name}.list"
    items.write_text("\n".join(keep) + "\n", "utf-8")
    script = folder / f"{name}.sql"
    _run(
        [pg_restore, "--no-owner", "--no-privileges", f"--use-list={items}", f"--file={script}", str(dump)],
        dict(os.environ),
        "pg_restore",
    )
    return script


def _load_script(url: str, script: Path, schema: str = "public") -> None:
    """Drop everything in `schema` and load the script, in ONE transaction: it is all there, or nothing changed."""
    conninfo, env = libpq(url)
    fresh = [f"--command=DROP SCHEMA IF EXISTS {schema} CASCADE"]
    fresh += ["--command=CREATE SCHEMA public"] if schema == "public" else []
    _run(
        [
            tool("psql"),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            *fresh,
            f"--file={script}",
            f"--dbname={conninfo}",
        ],
        env,
        "loading the backup into PostgreSQL (psql)",
    )


class PostgresSwap:
    """The dump loaded in place of the database's contents; the contents it replaced dumped first, loaded back
    on `undo` (the same privileges as the restore itself: no database is created or renamed)."""

    def __init__(self, url: str, dump: Path, folder: Path, live_readable: bool, part: str = "register") -> None:
        self.url = url
        self.folder = folder
        self.schema = "public" if part == "register" else KEYSTORE
        self._before: Path | None = None
        script = _restore_script(dump, folder, f"restore-{part}")  # read before anything changes
        if live_readable:
            (before,) = snapshot_postgresql(url, folder / "before", (part,))
            self._before = _restore_script(before.file, folder, f"before-{part}")
        _load_script(url, script, self.schema)

    def undo(self) -> None:
        if self._before is not None:
            _load_script(self.url, self._before, self.schema)

    def done(self) -> None:
        pass


def prepare_folder(base: Path | None = None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="personvern-backup-", dir=base))
    os.chmod(folder, 0o700)
    (folder / "before").mkdir(mode=0o700)
    return folder
