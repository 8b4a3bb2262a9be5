"""AES-CCM-16-64-128 (COSE alg 10, RFC 9053 §4.2) for COSE_Encrypt0.

Why this AEAD: every byte of a token costs QR modules, and a one-minute code
must fit 280 Base45 characters.  AES-CCM-16-64-128 has an 8-byte tag and a
13-byte nonce, against 16 and 12 for AES-GCM or ChaCha20-Poly1305: the token is
7 bytes shorter, and random 104-bit nonces give a far larger nonce budget
than 96-bit ones (see docs/key-management.md).  The tag only guards
confidentiality and cheap rejection: the Ed25519 signature inside is what
makes a token authentic, so 64 bits of tag do not weaken authenticity.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from ..errors import InvalidArgument
from ..model.limits import AES_KEY_BYTES as KEY_BYTES
from ..model.limits import ALG_AES_CCM_16_64_128, NONCE_BYTES, TAG_BYTES

__all__ = [
    "ALG_AES_CCM_16_64_128",
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "Aead",
    "AesCcmKey",
    "DecryptionFailed",
    "InvalidTag",
]


class DecryptionFailed(Exception):
    """Wrong key, wrong nonce, or tampered ciphertext or header."""


class Aead:
    """What a group key's AEAD offers the minter and the verifier (AES-CCM here, the SM4
    modes in crypto/sm4.py): its COSE ``alg``, nonce and tag sizes, ``encrypt`` under a
    fresh nonce, ``open`` (None on any fault), ``decrypt`` (raising) and ``raw_decrypt``."""

    __slots__ = ()
    alg: int
    nonce_bytes: int
    tag_bytes: int
    name: str

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
        raise NotImplementedError  # pragma: no cover - every AEAD defines it

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Decrypt and authenticate; :class:`DecryptionFailed` on any fault.

        The nonce length is checked here: the underlying library would accept
        other lengths than COSE's.
        """
        plaintext = self.open(nonce, ciphertext, aad)
        if plaintext is None:
            raise DecryptionFailed
        return plaintext


class AesCcmKey(Aead):
    """A 128-bit AES-CCM key with COSE's fixed nonce and tag sizes."""

    __slots__ = ("_aead",)
    alg = ALG_AES_CCM_16_64_128
    nonce_bytes = NONCE_BYTES
    tag_bytes = TAG_BYTES
    name = "AES-CCM-16-64-128"

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise InvalidArgument("AES-CCM-16-64-128 keys are 16 bytes")
        self._aead = AESCCM(key, tag_length=TAG_BYTES)

    def encrypt(
        self, plaintext: bytes, aad: bytes, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> tuple[bytes, bytes]:
        """Encrypt under a fresh random nonce; return ``(nonce, ciphertext)``."""
        nonce = random_bytes(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise InvalidArgument("the random source returned the wrong number of bytes")
        return nonce, self._aead.encrypt(nonce, plaintext, aad)

    @property
    def raw_encrypt(self) -> Callable[[bytes, bytes, bytes], bytes]:
        """The library's own encrypt ``(nonce, plaintext, aad)`` -> ciphertext, for a
        caller that drew a nonce of :data:`NONCE_BYTES` itself: the compiled minter
        (``token/mint.py``), which calls it from C."""
        return self._aead.encrypt

    @property
    def raw_decrypt(self) -> Callable[[bytes, bytes, bytes], bytes]:
        """The library's own decrypt ``(nonce, ciphertext, aad)``, raising ``InvalidTag``.

        For a caller that has already checked what :meth:`open` checks (a
        13-byte nonce, a ciphertext that holds a tag): the compiled
        accelerator, through the group routes (``keys/routes.py``), which
        catches ``InvalidTag`` in C instead of paying a Python ``except`` for
        every tampered token.
        """
        return self._aead.decrypt

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
        """:meth:`decrypt` answering None instead of raising."""
        if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
            return None
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            return None
