"""Private key files: written with mode 0600 atomically, refused when others can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519 as ossl_ed25519

from ..crypto.ed25519 import Ed25519PrivateKey
from ..crypto.sm2 import SM2PrivateKey
from ..errors import ErrorCode, KeyMaterialError
from .pkcs8 import PEM_PLAIN, names_sm2, open_pem, pem, sm2_from_der, sm2_to_pem


def write_file(path: str | os.PathLike[str], data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` with ``mode`` via a temporary file and rename.

    The file never exists with wider permissions or half-written.
    """
    path = Path(path)
    # Unique per process, thread and call, so concurrent writers never share it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:  # name the file the caller asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_private(path: str | os.PathLike[str]) -> bytes:
    """Read a private key file, refusing one that the group or others may read."""
    path = Path(path)
    try:
        st = path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyMaterialError(
                ErrorCode.KEY_FILE, f"{path.name} is readable by others; chmod 600 it"
            )
        return path.read_bytes()
    except OSError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, f"cannot read {path.name}") from None


def ed25519_to_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the passphrase if one is given."""
    ossl = ossl_ed25519.Ed25519PrivateKey.from_private_bytes(key.seed)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return ossl.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def ed25519_from_pem(data: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        ossl = serialization.load_pem_private_key(data, password=passphrase)
    # Besides ValueError and TypeError: an unknown key OID is UnsupportedAlgorithm,
    # and a key OpenSSL cannot set up (an Ed448 OID over 32 bytes) InternalError.
    except (ValueError, TypeError, UnsupportedAlgorithm, InternalError):
        raise KeyMaterialError(
            ErrorCode.KEY_FILE, "not a PKCS#8 PEM key, or the passphrase is wrong"
        ) from None
    if not isinstance(ossl, ossl_ed25519.Ed25519PrivateKey):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an Ed25519 key")
    seed = ossl.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return Ed25519PrivateKey(seed)


def private_to_pem(key: Ed25519PrivateKey | SM2PrivateKey,
                   passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM of an Ed25519 or SM2 key, encrypted (PBES2) with a passphrase."""
    if isinstance(key, SM2PrivateKey):
        return sm2_to_pem(key, passphrase)
    return ed25519_to_pem(key, passphrase)


def private_from_pem(data: bytes,
                     passphrase: bytes | None = None) -> Ed25519PrivateKey | SM2PrivateKey:
    """The Ed25519 or SM2 key of a PKCS#8 PEM (the key's algorithm says which).

    Encrypted files are opened by keys/pkcs8.py for both algorithms, so a wrong
    passphrase is ``wrong_passphrase`` for either; a file that is not a key is
    ``key_file``.
    """
    info, decrypted = open_pem(data, passphrase)
    if names_sm2(info):
        return sm2_from_der(info, decrypted)
    try:
        return ed25519_from_pem(pem(PEM_PLAIN, info))
    except KeyMaterialError:
        if decrypted:  # the padding looked right, the content is noise
            raise KeyMaterialError(ErrorCode.WRONG_PASSPHRASE,
                                   "the passphrase is wrong (or the encrypted key is damaged)"
                                   ) from None
        raise
