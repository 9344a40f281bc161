"""Field encryption: a master key file, per-subject data keys (AES-256-GCM) and keyed blind indexes."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from personvern.domain.errors import IntegrityBroken, NotReady

NONCE = 12
MASTER_KEY_BYTES = 32


def create_master_key(path: Path) -> None:
    """Write a new random master key readable by its owner only (mode 0600); never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(new_secret().hex().encode("ascii") + b"\n")
        f.flush()
        os.fsync(f.fileno())  # a rotation wraps keys under it before it is moved into place: it must be on disk


def read_master_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        # Only an initialised database asks for its key: `init` would refuse to make a new one, so say what helps.
        raise NotReady(
            f"master key file {path} not found, and this database was initialised with a master key: restore that "
            "key file from where you keep it safe, or set PERSONVERN_MASTER_KEY_FILE to where it is"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotReady(f"master key file {path} is readable by others; run `chmod 600 {path}`")
    try:
        key = bytes.fromhex(path.read_text("ascii").strip())
    except ValueError:
        raise NotReady(f"master key file {path} is not a key written by personvern") from None
    if len(key) != MASTER_KEY_BYTES:
        raise NotReady(f"master key file {path} does not hold a 256-bit key")
    return key


def master_key_id(master: bytes) -> str:
    """A key's public name: the installation, backups and data keys record which master key they belong to."""
    return hashlib.sha256(master).hexdigest()[:16]


def new_secret() -> bytes:
    """A fresh 256-bit secret (a master key, a derivation secret)."""
    return os.urandom(MASTER_KEY_BYTES)


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"personvern/" + purpose).derive(master)


class Vault:
    """Everything secret: wrapping data keys, sealing values, and the keys derived for indexes, chains and files.

    Two roots. The master key (the key file) wraps every data key and the register's derivation secret, and keys
    what lives in files beside it (backups, the erasure journal, the audit checkpoints): a rotation re-wraps the
    one and re-signs the others (store/rotation.py). The derivation secret (`seed`, kept wrapped in the key store)
    keys what lives in the database and must outlive a rotation: blind indexes, the audit chain, personal links,
    one-time codes; changing those would mean decrypting every value, or rewriting the chain's history. A register
    that stored no secret yet (made before rotation existed) derives them from its master key, as it always did.
    Each key is derived apart (HKDF), so a leaked index key reveals nothing about the data keys.
    """

    def __init__(self, master: bytes, seed: bytes | None = None) -> None:
        self._master = master
        self._kek = AESGCM(_derive(master, b"key-wrapping"))
        # The derivation secret in use: the master key itself for a register that stored none yet.
        self.seed = root = master if seed is None else seed
        self._index_key = _derive(root, b"blind-index")
        # The audit chain's HMAC key and the checkpoints' signing key, each derived apart: whoever can write
        # the database but has no master key can neither rebuild the chain nor sign a head it never had.
        self.audit_key = _derive(root, b"audit-chain")
        self.checkpoint_key = _derive(master, b"audit-checkpoints")
        self.link_key = _derive(root, b"self-service-links")  # the personal links of marketing messages
        # One-time codes of the public page are stored as HMACs under a key of their own: a copy of the database
        # without the master key cannot try the million codes offline.
        self.code_key = _derive(root, b"one-time-codes")
        self.backup_key = _derive(master, b"backups")  # backups' encryption and the erasure journal's signatures
        self.key_id = master_key_id(master)

    def with_seed(self, seed: bytes) -> Vault:
        """This master key with the register's stored derivation secret."""
        return Vault(self._master, seed)

    @staticmethod
    def new_data_key() -> bytes:
        return AESGCM.generate_key(bit_length=256)

    def wrap(self, owner_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._kek.encrypt(nonce, data_key, owner_id.encode())

    def unwrap(self, owner_id: str, wrapped: bytes) -> bytes:
        try:
            return self._kek.decrypt(wrapped[:NONCE], wrapped[NONCE:], owner_id.encode())
        except InvalidTag:
            raise IntegrityBroken(f"the data key of {owner_id} does not open with this master key") from None

    def blind(self, field: str, key: str) -> bytes:
        # 128 bits of HMAC-SHA256: collisions stay negligible far beyond any register's size, and the
        # index is half as large as with the full digest.
        return hmac.digest(self._index_key, f"{field}\x00{key}".encode(), "sha256")[:16]


def seal(cipher: AESGCM, aad: str, value: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + cipher.encrypt(nonce, value.encode("utf-8"), aad.encode())


def open_sealed(cipher: AESGCM, aad: str, blob: bytes) -> str:
    try:
        return cipher.decrypt(blob[:NONCE], blob[NONCE:], aad.encode()).decode("utf-8")
    except InvalidTag:
        raise IntegrityBroken(f"a stored value ({aad.split(':')[-1]}) fails its integrity check") from None
