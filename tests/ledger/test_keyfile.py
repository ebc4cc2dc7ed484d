"""Key files: written atomically and privately, read only when safe."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ledger.crypto import Domain, SigningKey
from ledger.errors import KeyFileError
from ledger.keyfile import (
    MAX_KEY_FILE_SIZE,
    encryption_public,
    load_encryption_key,
    load_public_key,
    load_signing_key,
    save_encryption_key,
    save_public_key,
    save_signing_key,
)

KEY = SigningKey.from_seed(bytes(range(32)))
HASH = bytes(32)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def same_key(a: SigningKey, b: SigningKey) -> bool:
    return a.public == b.public and a.sign(Domain.TX, "c", HASH) == b.sign(Domain.TX, "c", HASH)


def write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_round_trip(tmp_path: Path, password: bytes | None) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, KEY, password)
    assert mode(path) == 0o600
    header = path.read_bytes().splitlines()[0]
    expected = b"ENCRYPTED PRIVATE KEY" if password else b"-----BEGIN PRIVATE KEY-----"
    assert expected in header
    assert same_key(load_signing_key(path, password), KEY)
    assert sorted(os.listdir(tmp_path)) == ["node.key"]  # no temporary file left behind


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        save_signing_key(tmp_path / "a.key", KEY)
        save_public_key(tmp_path / "a.pub", KEY.public)
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.key") == 0o600
    assert mode(tmp_path / "a.pub") == 0o644


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, KEY)
    other = SigningKey.from_seed(bytes(32))
    with pytest.raises(KeyFileError, match="already exists"):
        save_signing_key(path, other)
    assert same_key(load_signing_key(path), KEY)
    save_signing_key(path, other, overwrite=True)
    assert mode(path) == 0o600
    assert same_key(load_signing_key(path), other)
    assert sorted(os.listdir(tmp_path)) == ["node.key"]


def test_refuses_to_replace_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "node.key"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KeyFileError, match="already exists"):
        save_signing_key(link, KEY)
    assert not (tmp_path / "elsewhere").exists()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        save_signing_key(tmp_path / "no" / "node.key", KEY)


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644, 0o666])
def test_refuses_keys_others_may_touch(tmp_path: Path, bad_mode: int) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, KEY)
    path.chmod(bad_mode)
    with pytest.raises(KeyFileError, match="group or others"):
        load_signing_key(path)


def test_owner_only_modes_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, KEY)
    path.chmod(0o400)
    assert same_key(load_signing_key(path), KEY)


def test_refuses_large_files(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    pem = KEY.private_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_private(path, pem + b"\n" * (MAX_KEY_FILE_SIZE + 1 - len(pem)))
    with pytest.raises(KeyFileError, match="over"):
        load_signing_key(path)
    write_private(path, pem + b"\n" * (MAX_KEY_FILE_SIZE - len(pem)))
    assert same_key(load_signing_key(path), KEY)  # exactly at the limit


def test_refuses_non_ed25519_keys(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    ec_key = ec.derive_private_key(12345, ec.SECP256R1())
    write_private(path, ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_signing_key(path)
    pub_path = tmp_path / "ec.pub"
    pub_path.write_bytes(
        ec_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_public_key(pub_path)


def test_password_errors_are_clear(tmp_path: Path) -> None:
    locked, plain = tmp_path / "locked.key", tmp_path / "plain.key"
    save_signing_key(locked, KEY, b"secret")
    save_signing_key(plain, KEY)
    with pytest.raises(KeyFileError, match="password is required"):
        load_signing_key(locked)
    with pytest.raises(KeyFileError, match="wrong password"):
        load_signing_key(locked, b"guess")
    with pytest.raises(KeyFileError, match="not encrypted"):
        load_signing_key(plain, b"secret")
    for bad in (b"", "secret"):
        with pytest.raises(KeyFileError, match="non-empty bytes"):
            load_signing_key(locked, bad)  # type: ignore[arg-type]
        with pytest.raises(KeyFileError, match="non-empty bytes"):
            save_signing_key(tmp_path / "x.key", KEY, bad)  # type: ignore[arg-type]
    assert not (tmp_path / "x.key").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_refuses_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "node.key"
    write_private(path, content)
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_signing_key(path)
    pub = tmp_path / "node.pub"
    pub.write_bytes(content)
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_public_key(pub)


def test_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot open"):
        load_signing_key(tmp_path / "missing.key")
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_signing_key(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_signing_key(fifo)


def test_public_key_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "node.pub"
    save_public_key(path, KEY.public)
    assert path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert mode(path) == 0o644
    assert load_public_key(path) == KEY.public
    with pytest.raises(KeyFileError, match="already exists"):
        save_public_key(path, KEY.public)
    other = SigningKey.from_seed(bytes(32)).public
    save_public_key(path, other, overwrite=True)
    assert load_public_key(path) == other


def test_public_key_file_must_pass_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "identity.pub"
    identity = (1).to_bytes(32, "little")  # order 1: a key every signature "verifies" under
    pem = Ed25519PublicKey.from_public_bytes(identity).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(pem)
    with pytest.raises(KeyFileError, match="small order"):
        load_public_key(path)


def test_key_file_error_code() -> None:
    assert KeyFileError("x").code == "invalid_key_file"


# ------------------------------------------------------------ encryption keys

ENC = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def _raw(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_encryption_key_round_trip(tmp_path: Path, password: bytes | None) -> None:
    path = tmp_path / "org.enc.pem"
    save_encryption_key(path, ENC, password)
    assert mode(path) == 0o600
    assert _raw(load_encryption_key(path, password)) == _raw(ENC)
    assert encryption_public(ENC) == ENC.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(KeyFileError, match="already exists"):
        save_encryption_key(path, ENC, password)


def test_a_signing_key_is_not_an_encryption_key_nor_the_other_way(tmp_path: Path) -> None:
    signing, encryption = tmp_path / "s.pem", tmp_path / "e.pem"
    save_signing_key(signing, KEY)
    save_encryption_key(encryption, ENC)
    with pytest.raises(KeyFileError, match="not an X25519 key"):
        load_encryption_key(signing)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_signing_key(encryption)


def test_an_encryption_key_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.pem"
    save_encryption_key(path, ENC)
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_encryption_key(path)
