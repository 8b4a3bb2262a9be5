"""SM2 private keys as PKCS#8 PEM, plain or passphrase-encrypted, written and read here.

``cryptography`` has no SM2 curve, so it can neither write nor read an SM2
PKCS#8 key; OpenSSL 3 can (``openssl pkey``), and so can GmSSL and Tongsuo.
This module writes exactly what OpenSSL writes, with a small DER encoder and
a strict DER reader of its own:

* ``PrivateKeyInfo`` (RFC 5208 / RFC 5958): version 0, algorithm
  ``id-ecPublicKey`` (1.2.840.10045.2.1) with the curve ``sm2``
  (1.2.156.10197.1.301), and the ``ECPrivateKey`` (RFC 5915): version 1, the
  32-byte ``d``, ``[1]`` the uncompressed public point.  PEM label
  ``PRIVATE KEY``.
* ``EncryptedPrivateKeyInfo`` (RFC 5958 §3) with PBES2 (RFC 8018 §6.2):
  PBKDF2 with HMAC-SHA-256 (16-byte salt, :data:`DEFAULT_ITERATIONS`
  iterations) and AES-256-CBC with PKCS#7 padding.  PEM label ``ENCRYPTED
  PRIVATE KEY``.  Reading also takes what other tools choose: PBKDF2 with
  HMAC-SHA-1/-224/-384/-512 (SHA-1 when the PRF is absent, RFC 8018's
  default) or scrypt (RFC 7914), and AES-128/192/256-CBC or SM4-CBC.

Errors are :class:`KeyMaterialError`: ``key_file`` for a file that is not
such a key (wrong structure, unknown algorithm, trailing bytes, a public
point that does not match ``d``), ``wrong_passphrase`` when the structure is
sound but decryption under the given passphrase does not give a key (a wrong
passphrase, or a damaged ciphertext: the two cannot be told apart), and
``key_file`` as well when a passphrase is needed but missing, or given for a
plain key.  Messages never contain key bytes or the passphrase.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..crypto.sm2 import PRIVATE_KEY_BYTES, SM2PrivateKey
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError

__all__ = [
    "DEFAULT_ITERATIONS",
    "is_encrypted_pem",
    "names_sm2",
    "open_pem",
    "sm2_from_der",
    "sm2_from_pem",
    "sm2_to_pem",
]

DEFAULT_ITERATIONS = 600_000
"""PBKDF2-HMAC-SHA-256 iterations when writing (OWASP's 2023 figure for SHA-256)."""
MAX_ITERATIONS = 10_000_000
"""A file asking for more is refused rather than keeping the CPU busy for minutes."""
SALT_BYTES = 16
RandomBytes = Callable[[int], bytes]

# --- OIDs (dotted) ---------------------------------------------------------
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2 = "1.2.156.10197.1.301"
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_PRFS: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.113549.2.7": hashes.SHA1,
    "1.2.840.113549.2.8": hashes.SHA224,
    "1.2.840.113549.2.9": hashes.SHA256,
    "1.2.840.113549.2.10": hashes.SHA384,
    "1.2.840.113549.2.11": hashes.SHA512,
}
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_CIPHERS: dict[str, tuple[int, Callable[[bytes], BlockCipherAlgorithm]]] = {
    "2.16.840.1.101.3.4.1.2": (16, algorithms.AES),
    "2.16.840.1.101.3.4.1.22": (24, algorithms.AES),
    OID_AES256_CBC: (32, algorithms.AES),
    "1.2.156.10197.1.104.2": (16, algorithms.SM4),
}
"""cipher OID -> (key bytes, algorithm); every one is CBC with a 16-byte IV."""

PEM_PLAIN = "PRIVATE KEY"
PEM_ENCRYPTED = "ENCRYPTED PRIVATE KEY"

# --- DER: a tiny encoder and a strict reader -------------------------------
SEQUENCE, INTEGER, OCTET_STRING, BIT_STRING, NULL, OID = 0x30, 0x02, 0x04, 0x03, 0x05, 0x06
CTX0, CTX1 = 0xA0, 0xA1


class DERError(ValueError):
    """Bytes that are not the DER this module reads."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element."""
    return bytes((tag,)) + _length(len(content)) + content


def der_int(value: int) -> bytes:
    """A non-negative INTEGER in its minimal two's-complement form."""
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray((40 * parts[0] + parts[1],))
    for arc in parts[2:]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def seq(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


@dataclass(frozen=True, slots=True)
class _Reader:
    """A cursor over the content of one constructed element."""

    data: bytes
    pos: list[int]

    @classmethod
    def of(cls, data: bytes) -> _Reader:
        return cls(data, [0])

    def done(self) -> bool:
        return self.pos[0] == len(self.data)

    def peek(self) -> int | None:
        return None if self.done() else self.data[self.pos[0]]

    def element(self, tag: int) -> bytes:
        """The content of the next element, which must have ``tag``."""
        data, i = self.data, self.pos[0]
        if i + 2 > len(data) or data[i] != tag:
            raise DERError("unexpected element")
        first = data[i + 1]
        i += 2
        if first < 0x80:
            n = first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or i + count > len(data) or data[i] == 0:
                raise DERError("bad length")
            n = int.from_bytes(data[i:i + count], "big")
            if n < 0x80:
                raise DERError("length not minimal")
            i += count
        if i + n > len(data):
            raise DERError("element runs past the end")
        self.pos[0] = i + n
        return data[i:i + n]

    def sub(self, tag: int = SEQUENCE) -> _Reader:
        return _Reader.of(self.element(tag))

    def integer(self) -> int:
        body = self.element(INTEGER)
        if not body or body[0] & 0x80 or (len(body) > 1 and body[0] == 0 and body[1] < 0x80):
            raise DERError("not a minimal non-negative INTEGER")
        return int.from_bytes(body, "big")

    def oid(self) -> str:
        body = self.element(OID)
        if not body or body[0] & 0x80 or body[-1] & 0x80:
            raise DERError("bad OID")
        top = min(body[0] // 40, 2)
        parts = [top, body[0] - 40 * top]
        value, start = 0, True
        for b in body[1:]:
            if start and b == 0x80:
                raise DERError("OID arc not minimal")
            value = value << 7 | (b & 0x7F)
            start = not b & 0x80
            if start:
                parts.append(value)
                value = 0
        return ".".join(map(str, parts))

    def end(self) -> None:
        if not self.done():
            raise DERError("trailing bytes")


# --- PrivateKeyInfo -------------------------------------------------------

def private_key_info(key: SM2PrivateKey) -> bytes:
    """The DER ``PrivateKeyInfo`` of an SM2 key (OpenSSL's layout)."""
    ec_private = seq(der_int(1), tlv(OCTET_STRING, key.secret),
                     tlv(CTX1, tlv(BIT_STRING, b"\x00\x04" + key.public_key.raw)))
    return seq(der_int(0), seq(der_oid(OID_EC_PUBLIC_KEY), der_oid(OID_SM2)),
               tlv(OCTET_STRING, ec_private))


def parse_private_key_info(der: bytes) -> SM2PrivateKey:
    """The SM2 key of a DER ``PrivateKeyInfo``; :class:`DERError` or ``key_file`` if not."""
    outer = _Reader.of(der)
    info = outer.sub()
    outer.end()
    if info.integer() not in (0, 1):  # v1 (RFC 5208) or v2 (RFC 5958, OneAsymmetricKey)
        raise DERError("unknown PrivateKeyInfo version")
    alg = info.sub()
    if alg.oid() != OID_EC_PUBLIC_KEY or alg.oid() != OID_SM2:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not an SM2 private key")
    alg.end()
    ec = _Reader.of(info.element(OCTET_STRING))
    # attributes [0] and publicKey [1] of OneAsymmetricKey are allowed and ignored
    ec_private = ec.sub()
    ec.end()
    if ec_private.integer() != 1:
        raise DERError("unknown ECPrivateKey version")
    secret = ec_private.element(OCTET_STRING)
    point = None
    if ec_private.peek() == CTX0:
        params = ec_private.sub(CTX0)
        if params.oid() != OID_SM2:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "not an SM2 private key")
        params.end()
    if ec_private.peek() == CTX1:
        point = ec_private.sub(CTX1).element(BIT_STRING)
    ec_private.end()
    if len(secret) != PRIVATE_KEY_BYTES:
        raise DERError("an SM2 private key is 32 bytes")
    try:
        key = SM2PrivateKey(secret)
    except InvalidArgument:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a valid SM2 private key") from None
    if point is not None and point != b"\x00\x04" + key.public_key.raw:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "the public point does not match the key")
    return key


# --- PBES2 ----------------------------------------------------------------

def _pbkdf2(passphrase: bytes, salt: bytes, iterations: int, length: int,
            prf: type[hashes.HashAlgorithm]) -> bytes:
    return PBKDF2HMAC(prf(), length, salt, iterations).derive(passphrase)


def encrypt(der: bytes, passphrase: bytes, *, iterations: int = DEFAULT_ITERATIONS,
            random_bytes: RandomBytes = os.urandom) -> bytes:
    """``EncryptedPrivateKeyInfo`` of ``der`` (PBES2: PBKDF2-HMAC-SHA-256, AES-256-CBC)."""
    if not isinstance(passphrase, bytes) or not passphrase:
        raise InvalidArgument("the passphrase must be non-empty bytes")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not (
        1 <= iterations <= MAX_ITERATIONS
    ):
        raise InvalidArgument(f"iterations must be 1 to {MAX_ITERATIONS}")
    salt, iv = random_bytes(SALT_BYTES), random_bytes(16)
    key = _pbkdf2(passphrase, salt, iterations, 32, hashes.SHA256)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf = seq(der_oid(OID_PBKDF2), seq(tlv(OCTET_STRING, salt), der_int(iterations),
                                       seq(der_oid(OID_HMAC_SHA256), tlv(NULL, b""))))
    scheme = seq(der_oid(OID_AES256_CBC), tlv(OCTET_STRING, iv))
    return seq(seq(der_oid(OID_PBES2), seq(kdf, scheme)), tlv(OCTET_STRING, ciphertext))


def _key_derivation(kdf: _Reader, passphrase: bytes, key_bytes: int) -> bytes:
    kdf_oid = kdf.oid()
    params = kdf.sub()
    kdf.end()
    salt = params.element(OCTET_STRING)
    if kdf_oid == OID_PBKDF2:
        iterations = params.integer()
        if params.peek() == INTEGER and params.integer() != key_bytes:
            raise DERError("key length does not match the cipher")
        prf: type[hashes.HashAlgorithm] = hashes.SHA1
        if params.peek() == SEQUENCE:
            prf_alg = params.sub()
            found = _PRFS.get(prf_alg.oid())
            if found is None:
                raise KeyMaterialError(ErrorCode.KEY_FILE, "unsupported PBKDF2 PRF")
            if not prf_alg.done():
                prf_alg.element(NULL)
            prf_alg.end()
            prf = found
        params.end()
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "PBKDF2 iteration count out of range")
        return _pbkdf2(passphrase, salt, iterations, key_bytes, prf)
    if kdf_oid == OID_SCRYPT:
        n, r, p = params.integer(), params.integer(), params.integer()
        if params.peek() == INTEGER and params.integer() != key_bytes:
            raise DERError("key length does not match the cipher")
        params.end()
        if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "scrypt parameters out of range")
        try:
            return Scrypt(salt, key_bytes, n, r, p).derive(passphrase)
        except (ValueError, MemoryError):  # pragma: no cover - parameters are bounded above
            raise KeyMaterialError(ErrorCode.KEY_FILE, "scrypt parameters refused") from None
    raise KeyMaterialError(ErrorCode.KEY_FILE, "unsupported key derivation")


def decrypt(der: bytes, passphrase: bytes) -> bytes:
    """The ``PrivateKeyInfo`` inside an ``EncryptedPrivateKeyInfo`` (PBES2 only)."""
    outer = _Reader.of(der)
    info = outer.sub()
    outer.end()
    alg = info.sub()
    ciphertext = info.element(OCTET_STRING)
    info.end()
    if alg.oid() != OID_PBES2:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "only PBES2 encryption is supported")
    params = alg.sub()
    alg.end()
    kdf, scheme = params.sub(), params.sub()
    params.end()
    cipher = _CIPHERS.get(scheme.oid())
    if cipher is None:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "unsupported cipher")
    iv = scheme.element(OCTET_STRING)
    scheme.end()
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise DERError("CBC needs a 16-byte IV and whole blocks")
    key_bytes, algorithm = cipher
    key = _key_derivation(kdf, passphrase, key_bytes)
    decryptor = Cipher(algorithm(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise _wrong_passphrase() from None


def _wrong_passphrase() -> KeyMaterialError:
    return KeyMaterialError(ErrorCode.WRONG_PASSPHRASE,
                            "the passphrase is wrong (or the encrypted key is damaged)")


# --- PEM --------------------------------------------------------------------

def pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"".join((f"-----BEGIN {label}-----\n".encode(), *(line + b"\n" for line in lines),
                     f"-----END {label}-----\n".encode()))


def unpem(data: bytes) -> tuple[str, bytes]:
    """``(label, DER)`` of the one PEM block in ``data``; ``key_file`` if there is none."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PEM file") from None
    lines = text.splitlines()
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN ") or not lines[0].endswith("-----"):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PEM file")
    label = lines[0][11:-5]
    if lines[-1] != f"-----END {label}-----":
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PEM file")
    try:
        der = base64.b64decode("".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PEM file") from None
    return label, der


def is_encrypted_pem(data: bytes) -> bool:
    """Is ``data`` an ``ENCRYPTED PRIVATE KEY`` PEM (does loading it need a passphrase)?"""
    return data.lstrip().startswith(b"-----BEGIN " + PEM_ENCRYPTED.encode() + b"-----")


def sm2_to_pem(key: SM2PrivateKey, passphrase: bytes | None = None, *,
               iterations: int = DEFAULT_ITERATIONS,
               random_bytes: RandomBytes = os.urandom) -> bytes:
    """PKCS#8 PEM of an SM2 key; encrypted (PBES2) when a passphrase is given.

    Only the default signer ID travels in PKCS#8 (it has no field for one).
    """
    if not isinstance(key, SM2PrivateKey):
        raise InvalidArgument("key must be an SM2PrivateKey")
    der = private_key_info(key)
    if not passphrase:
        return pem(PEM_PLAIN, der)
    return pem(PEM_ENCRYPTED, encrypt(der, passphrase, iterations=iterations,
                                      random_bytes=random_bytes))


def open_pem(data: bytes, passphrase: bytes | None = None) -> tuple[bytes, bool]:
    """``(PrivateKeyInfo DER, was it encrypted)`` of a PKCS#8 PEM, decrypted with
    ``passphrase`` when it is an ``ENCRYPTED PRIVATE KEY`` (any algorithm inside)."""
    label, der = unpem(data)
    if label == PEM_ENCRYPTED:
        if not passphrase:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "the key file needs a passphrase")
        try:
            return decrypt(der, passphrase), True
        except DERError:
            raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PKCS#8 encrypted key") from None
    if label != PEM_PLAIN:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PKCS#8 private key")
    if passphrase:
        raise KeyMaterialError(ErrorCode.KEY_FILE, "the key file is not encrypted")
    return der, False


_SM2_ALGORITHM = seq(der_oid(OID_EC_PUBLIC_KEY), der_oid(OID_SM2))


def names_sm2(info: bytes) -> bool:
    """Does a ``PrivateKeyInfo`` name the SM2 curve (an SM2 key, whatever else it holds)?"""
    try:
        reader = _Reader.of(info).sub()
        reader.integer()
        return tlv(SEQUENCE, reader.element(SEQUENCE)) == _SM2_ALGORITHM
    except DERError:
        return False


def sm2_from_der(info: bytes, decrypted: bool = False) -> SM2PrivateKey:
    """The SM2 key of a ``PrivateKeyInfo``; after decryption a key that does not parse
    means the passphrase was wrong (padding looks right for 1 in 256 wrong ones)."""
    try:
        return parse_private_key_info(info)
    except (DERError, KeyMaterialError):
        if decrypted:
            raise _wrong_passphrase() from None
        raise KeyMaterialError(ErrorCode.KEY_FILE, "not a PKCS#8 SM2 key") from None


def sm2_from_pem(data: bytes, passphrase: bytes | None = None) -> SM2PrivateKey:
    """The SM2 key of a PKCS#8 PEM (plain, or encrypted with ``passphrase``)."""
    info, decrypted = open_pem(data, passphrase)
    return sm2_from_der(info, decrypted)
