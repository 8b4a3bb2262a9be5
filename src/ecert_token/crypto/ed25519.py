"""Ed25519 through libsodium (PyNaCl): signatures for COSE_Sign1 (alg -8).

libsodium is used for verification because it is about twice as fast here as
OpenSSL's Ed25519 and because it refuses signatures under small-order and
identity public keys, which OpenSSL accepts.  Public keys are validated when
they are loaded as well, so a weak key never reaches the trust store.
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as sodium
import nacl.exceptions

from ..errors import ErrorCode, InvalidArgument, KeyMaterialError
from ..model.limits import ALG_EDDSA, PUBLIC_KEY_BYTES, SIGNATURE_BYTES


def signature_valid(signed: bytes, public_raw: bytes) -> bool:
    """Is ``signed`` (a 64-byte signature followed by its message) valid under the
    32-byte ``public_raw``?  libsodium's ``crypto_sign_open`` through PyNaCl's
    public bindings."""
    try:
        sodium.crypto_sign_open(signed, public_raw)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


__all__ = [
    "ALG_EDDSA",
    "PUBLIC_KEY_BYTES",
    "SEED_BYTES",
    "SIGNATURE_BYTES",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "signature_valid",
    "thumbprint_kid",
    "validate_public_key",
]

SEED_BYTES = 32


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
        return signature_valid(signature + message, self.raw)

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

    @property
    def secret_key(self) -> bytes:
        """libsodium's 64-byte secret key (seed and public key), for the compiled
        minter's ``crypto_sign_detached``; handle with care."""
        return self._secret

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of ``message``."""
        signature: bytes = sodium.crypto_sign(message, self._secret)[:SIGNATURE_BYTES]
        return signature

    def __repr__(self) -> str:
        return f"Ed25519PrivateKey(kid={thumbprint_kid(self.public_key.raw).hex()})"
