"""Ed25519 through libsodium (PyNaCl): signatures for COSE_Sign1 (alg -8).

libsodium is used for verification because it is about twice as fast here as
OpenSSL's Ed25519 and because it refuses signatures under small-order and
identity public keys, which OpenSSL accepts.  Public keys are validated when
they are loaded as well, so a weak key never reaches the trust store.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions

from .. import speedups
from ..errors import ErrorCode, InvalidArgument, KeyMaterialError


def _sign_open_fallback(m: object, mlen_p: object, signed: bytes, size: int, pk: bytes) -> int:
    """``crypto_sign_open``'s answer through PyNaCl's wrapper: 0 if valid, else -1."""
    try:
        sodium.crypto_sign_open(signed[:size], pk)
    except nacl.exceptions.BadSignatureError:
        return -1
    return 0


try:  # libsodium's own entry point, as PyNaCl's bindings call it (see Ed25519PublicKey.verify)
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    sign_open: Callable[[Any, Any, bytes, int, bytes], int] = _lib.crypto_sign_open
    """libsodium's ``crypto_sign_open(m, mlen_p, sm, smlen, pk)``: 0 if ``sm`` is a valid
    signature followed by its message.  Call it as ``sign_open(NULL, NULL, signed,
    len(signed), public_raw)``: no output buffers, and cffi releases the GIL."""
    _sign = _lib.crypto_sign
    NULL: Any = _ffi.NULL
except (ImportError, AttributeError):  # pragma: no cover - a PyNaCl without the cffi module
    sign_open = _sign_open_fallback
    _sign = None
    NULL = None


_SIGN_OPEN_TYPE = ("int(*)(unsigned char *, unsigned long long *, unsigned char *, "
                   "unsigned long long, unsigned char *)")


def _load_open_many() -> Callable[[list[bytes], list[bytes]], bytes] | None:
    """The compiled batch check bound to libsodium's ``crypto_sign_open``, if built."""
    if _sign is None or not speedups.allowed():
        return None
    try:
        from . import _ed25519_batch
    except ImportError:  # built without a C compiler
        return None
    pointer = _ffi.addressof(_lib, "crypto_sign_open")
    if _ffi.getctype(_ffi.typeof(pointer)) != _SIGN_OPEN_TYPE:  # pragma: no cover
        return None
    return functools.partial(_ed25519_batch.open_many, int(_ffi.cast("uintptr_t", pointer)))


open_many = _load_open_many()
"""``open_many(signed, keys) -> bytes``: for each ``signed`` (signature + message)
and 32-byte public key, 1 if valid else 0, all checked by libsodium inside one
release of the GIL (``_ed25519_batch.c``); None where the extension is not
built.  Same answers as :data:`sign_open`, one at a time."""

ALG_EDDSA = -8
PUBLIC_KEY_BYTES = 32
SEED_BYTES = 32
SIGNATURE_BYTES = 64


def thumbprint_kid(public_key: bytes, size: int = 4) -> bytes:
    """A short key id derived from the public key (first bytes of SHA-256)."""
    return hashlib.sha256(b"ecert-token kid\x00" + public_key).digest()[:size]


def validate_public_key(raw: bytes) -> bytes:
    """Refuse anything but a canonical point of prime order (no identity, no small order)."""
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_BYTES:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "Ed25519 public keys are 32 bytes")
    if not sodium.crypto_core_ed25519_is_valid_point(raw):
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a valid prime-order Ed25519 point")
    return raw


class Ed25519PublicKey:
    """A validated Ed25519 public key that verifies detached signatures."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = validate_public_key(raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is valid for ``message``; never raises for bad input."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        signed = signature + message
        # The same libsodium call as nacl.bindings.crypto_sign_open, without
        # the output buffer it allocates and copies.
        return sign_open(NULL, NULL, signed, len(signed), self.raw) == 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"Ed25519PublicKey(kid={thumbprint_kid(self.raw).hex()})"


class Ed25519PrivateKey:
    """An Ed25519 signing key held as its 32-byte seed."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise InvalidArgument("an Ed25519 seed is 32 bytes")
        public, self._secret = sodium.crypto_sign_seed_keypair(seed)
        self.public_key = Ed25519PublicKey(public)

    @classmethod
    def generate(cls, random_bytes: bytes | None = None) -> Ed25519PrivateKey:
        """A new key from 32 random bytes (os.urandom unless given, for tests)."""
        return cls(random_bytes if random_bytes is not None else os.urandom(SEED_BYTES))

    @property
    def seed(self) -> bytes:
        """The 32-byte seed (the RFC 8032 private key); handle with care."""
        return bytes(sodium.crypto_sign_ed25519_sk_to_seed(self._secret))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of ``message``."""
        if _sign is not None:
            # libsodium's crypto_sign as PyNaCl calls it, copying out only the
            # signature instead of the whole signed message.
            out = _ffi.new("unsigned char[]", len(message) + SIGNATURE_BYTES)
            if _sign(out, NULL, message, len(message), self._secret) != 0:
                raise InvalidArgument("signing failed")  # pragma: no cover - libsodium never fails
            return bytes(_ffi.buffer(out, SIGNATURE_BYTES))
        return bytes(sodium.crypto_sign(message, self._secret)[:SIGNATURE_BYTES])

    def __repr__(self) -> str:
        return f"Ed25519PrivateKey(kid={thumbprint_kid(self.public_key.raw).hex()})"
