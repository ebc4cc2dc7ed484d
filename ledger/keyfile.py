"""Key files: Ed25519 private keys as PKCS#8 PEM, public keys as PEM SPKI.

Private key files hold ``-----BEGIN PRIVATE KEY-----`` (PKCS#8), or
``-----BEGIN ENCRYPTED PRIVATE KEY-----`` when saved with a password
(``cryptography``'s ``BestAvailableEncryption``). They are written
atomically with mode 0o600: a temporary file in the same directory, created
with ``O_EXCL``, fsynced, then linked or renamed into place, and the
directory fsynced. An existing file is never replaced unless the caller
says ``overwrite=True``. Loading refuses files that group or others may
read or write, files over 64 KiB, anything that is not a regular file, and
keys that are not Ed25519.

Public key files hold ``-----BEGIN PUBLIC KEY-----`` (SubjectPublicKeyInfo
PEM), so ``openssl pkey -pubout`` makes one from a private key file; they
are written the same way with mode 0o644.

Encryption keys (X25519, RFC 7748: what declarations an organisation may
read are to be encrypted to) are PKCS#8 PEM files too, written and read
under the same rules; a signing key is never read as an encryption key, nor
the other way round. Membership records only their 32-byte public keys
(:func:`encryption_public`).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from ledger.crypto import PublicKey, SigningKey
from ledger.errors import KeyFileError, LedgerError

MAX_KEY_FILE_SIZE: Final = 64 * 1024
PRIVATE_MODE: Final = 0o600
PUBLIC_MODE: Final = 0o644
_ENCRYPTED_HEADER: Final = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
# Filesystems without hard links answer os.link with one of these.
_NO_LINK: Final = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})
_temp_counter = itertools.count()

StrPath = str | os.PathLike[str]


def _check_password(password: bytes | None) -> None:
    if password is not None and (type(password) is not bytes or not password):
        raise KeyFileError("a password must be non-empty bytes")


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: StrPath, data: bytes, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with ``mode``, all or nothing."""
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise KeyFileError(f"{target} already exists")
    # The pid and a counter keep concurrent writers apart; O_EXCL refuses any clash.
    temp = target.with_name(f".{target.name}.{os.getpid()}.{next(_temp_counter)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as e:
        raise KeyFileError(f"cannot create {target}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # exactly ``mode``, whatever the umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temp, target)
        else:
            _link_new(temp, target)
        _fsync_directory(target.parent)
    except OSError as e:
        raise KeyFileError(f"cannot write {target}: {e.strerror}") from e
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def _link_new(temp: Path, target: Path) -> None:
    """Move ``temp`` to ``target`` only if nothing is there (no check-then-rename race)."""
    try:
        os.link(temp, target)
        os.unlink(temp)
    except FileExistsError as e:
        raise KeyFileError(f"{target} already exists") from e
    except OSError as e:
        if e.errno not in _NO_LINK:
            raise
        if os.path.lexists(target):
            raise KeyFileError(f"{target} already exists") from e
        os.rename(temp, target)


def _read_limited(path: StrPath, *, private: bool) -> bytes:
    """The bytes of a small regular file; for a private key, only if the owner alone may use it."""
    try:
        # O_NONBLOCK: opening a FIFO must not hang; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise KeyFileError(f"cannot open {os.fspath(path)}: {e.strerror}") from e
    try:
        st = os.fstat(fd)  # of the opened file: no race with a swapped path
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{os.fspath(path)} is not a regular file")
        if private and st.st_mode & 0o077:
            raise KeyFileError(
                f"{os.fspath(path)} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); run chmod 600 on it"
            )
        if st.st_size > MAX_KEY_FILE_SIZE:
            raise KeyFileError(f"{os.fspath(path)} is over {MAX_KEY_FILE_SIZE} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_KEY_FILE_SIZE + 1)
    except OSError as e:
        raise KeyFileError(f"cannot read {os.fspath(path)}: {e.strerror}") from e
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFileError(f"{os.fspath(path)} is over {MAX_KEY_FILE_SIZE} bytes")
    return data


def save_signing_key(
    path: StrPath, key: SigningKey, password: bytes | None = None, *, overwrite: bool = False
) -> None:
    """Write ``key`` as PKCS#8 PEM (encrypted if a password is given), mode 0o600."""
    _check_password(password)
    encryption: KeySerializationEncryption = (
        NoEncryption() if password is None else BestAvailableEncryption(password)
    )
    pem = key.private_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    _write_atomic(path, pem, PRIVATE_MODE, overwrite)


def _load_private(path: StrPath, password: bytes | None) -> object:
    """The private key of a PKCS#8 PEM file that only its owner may read or write."""
    _check_password(password)
    data = _read_limited(path, private=True)
    name = os.fspath(path)
    encrypted = _ENCRYPTED_HEADER in data
    if encrypted and password is None:
        raise KeyFileError(f"{name} is encrypted: a password is required")
    if not encrypted and password is not None:
        raise KeyFileError(f"{name} is not encrypted, but a password was given")
    try:
        return load_pem_private_key(data, password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        if encrypted:
            raise KeyFileError(f"{name}: wrong password, or a corrupt key file") from e
        raise KeyFileError(f"{name} is not a PEM private key that can be read") from e


def load_signing_key(path: StrPath, password: bytes | None = None) -> SigningKey:
    """Read an Ed25519 PKCS#8 PEM key file that only its owner may read or write."""
    private = _load_private(path, password)
    name = os.fspath(path)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{name} holds a {type(private).__name__}, not an Ed25519 key")
    return SigningKey(private)


def save_encryption_key(
    path: StrPath,
    key: X25519PrivateKey,
    password: bytes | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Write an X25519 encryption key as PKCS#8 PEM (encrypted if a password is given), 0o600."""
    _check_password(password)
    encryption: KeySerializationEncryption = (
        NoEncryption() if password is None else BestAvailableEncryption(password)
    )
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    _write_atomic(path, pem, PRIVATE_MODE, overwrite)


def load_encryption_key(path: StrPath, password: bytes | None = None) -> X25519PrivateKey:
    """Read an X25519 PKCS#8 PEM key file that only its owner may read or write."""
    private = _load_private(path, password)
    if not isinstance(private, X25519PrivateKey):
        raise KeyFileError(f"{os.fspath(path)} holds a {type(private).__name__}, not an X25519 key")
    return private


def encryption_public(key: X25519PrivateKey) -> bytes:
    """The 32-byte X25519 public key of ``key``, as membership records it."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def save_public_key(path: StrPath, key: PublicKey, *, overwrite: bool = False) -> None:
    """Write ``key`` as SubjectPublicKeyInfo PEM, mode 0o644."""
    pem = Ed25519PublicKey.from_public_bytes(key.raw).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    _write_atomic(path, pem, PUBLIC_MODE, overwrite)


def load_public_key(path: StrPath) -> PublicKey:
    """Read an Ed25519 SubjectPublicKeyInfo PEM file; the key must pass the ledger's rule."""
    data = _read_limited(path, private=False)
    name = os.fspath(path)
    try:
        public = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyFileError(f"{name} is not a PEM public key that can be read") from e
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileError(f"{name} holds a {type(public).__name__}, not an Ed25519 key")
    try:
        return PublicKey(public.public_bytes(Encoding.Raw, PublicFormat.Raw))
    except LedgerError as e:
        raise KeyFileError(f"{name}: {e.message}") from e
