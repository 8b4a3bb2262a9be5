"""SM4 AEADs for COSE_Encrypt0: SM4-CCM-16-64-128 (the default) and SM4-GCM.

SM4 (GB/T 32907-2016) comes from ``cryptography`` (OpenSSL), which offers it
in ECB, CBC, CTR and GCM modes but not CCM.  Two AEADs are offered:

* **SM4-CCM-16-64-128** (COSE alg -65539): CCM (NIST SP 800-38C, RFC 3610)
  over SM4 with the parameters of COSE's AES-CCM-16-64-128: a 13-byte nonce
  (``L = 2``, messages up to 65535 bytes), an 8-byte tag, a 128-bit key.  A
  token is exactly as long as with AES-CCM-16-64-128, and the verifier's
  envelope reader is unchanged.  CCM is built here from SM4-CBC (the CBC-MAC
  over the formatted ``B0 || encoded AAD || padded plaintext``) and SM4-CTR
  (``S0`` and the key stream in one pass from the counter block ``A0``); the
  construction is held to cryptography's AES-CCM by the tests (the same code
  over AES gives AESCCM's bytes) and to RFC 8998's SM4-CCM example.
* **SM4-GCM** (COSE alg -65538, RFC 8998 §3.1's mode): a 12-byte nonce and a
  16-byte tag, OpenSSL's GCM over SM4; 7 bytes longer per token.

As with AES-CCM, the tag only guards confidentiality and cheap rejection: the
SM2 signature inside makes the token authentic (see crypto/aead.py).
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import InvalidArgument
from .aead import Aead

__all__ = [
    "ALG_SM4_CCM_16_64_128",
    "ALG_SM4_GCM",
    "KEY_BYTES",
    "Ccm",
    "Sm4CcmKey",
    "Sm4GcmKey",
]

ALG_SM4_GCM = -65538
ALG_SM4_CCM_16_64_128 = -65539
KEY_BYTES = 16
BLOCK = 16
_ZERO_BLOCK = bytes(BLOCK)
RandomBytes = Callable[[int], bytes]


_COUNTED = 64
_COUNTERS = b"".join(i.to_bytes(BLOCK, "big") for i in range(_COUNTED))
"""Counter blocks 0 to 63 with zero flags and nonce (messages up to 1 KiB)."""


def _xor(a: bytes, b: bytes) -> bytes:
    """``a XOR b`` for two strings of one length."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class Ccm:
    """CCM over a 128-bit block cipher (``algorithms.SM4`` or, for tests, ``AES``).

    Thread-safe: the two cipher contexts it keeps are used under a lock.

    ``nonce_bytes`` 7 to 13 (``L = 15 - nonce_bytes``), ``tag_bytes`` an even
    number from 4 to 16.  :meth:`encrypt` returns ``ciphertext || tag`` and
    :meth:`decrypt` raises ``InvalidTag`` on any fault, as cryptography's AESCCM.
    """

    __slots__ = ("_cbc", "_ecb", "_flags", "_last", "_length_bytes", "_lock", "_nonce_bytes",
                 "_tag_bytes")

    def __init__(
        self, algorithm: algorithms.SM4 | algorithms.AES, nonce_bytes: int, tag_bytes: int
    ) -> None:
        if not 7 <= nonce_bytes <= 13 or tag_bytes not in (4, 6, 8, 10, 12, 14, 16):
            raise InvalidArgument("CCM takes 7- to 13-byte nonces and even 4- to 16-byte tags")
        self._nonce_bytes = nonce_bytes
        self._tag_bytes = tag_bytes
        self._length_bytes = 15 - nonce_bytes
        self._flags = ((tag_bytes - 2) // 2) << 3 | (self._length_bytes - 1)
        # Two long-lived OpenSSL contexts instead of two new ones per message (each new
        # one costs about as much as the whole CCM computation of a token).  ECB is
        # stateless over whole blocks; the CBC context chains from its last output
        # block, which is kept in ``_last`` and cancelled out of each MAC's first block.
        # The lock keeps concurrent callers (verify_many's threads) apart.
        self._ecb = Cipher(algorithm, modes.ECB()).encryptor()  # noqa: S305 - CTR blocks
        self._cbc = Cipher(algorithm, modes.CBC(_ZERO_BLOCK)).encryptor()
        self._last = _ZERO_BLOCK
        self._lock = threading.Lock()

    def _mac(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """The CBC-MAC ``T`` (SP 800-38C A.2: B0, the encoded AAD, the plaintext), IV 0."""
        flags = (64 if aad else 0) | self._flags
        parts = [bytes((flags,)), nonce, len(plaintext).to_bytes(self._length_bytes, "big")]
        if aad:
            n = len(aad)
            if n < 0xFF00:
                parts.append(n.to_bytes(2, "big"))
            elif n < 2**32:
                parts += (b"\xff\xfe", n.to_bytes(4, "big"))
            else:  # pragma: no cover - 4 GiB of AAD
                parts += (b"\xff\xff", n.to_bytes(8, "big"))
            parts.append(aad)
            parts.append(bytes(-(2 + n + (0 if n < 0xFF00 else 4)) % BLOCK))
        parts += (plaintext, bytes(-len(plaintext) % BLOCK))
        blocks = b"".join(parts)
        with self._lock:
            # C1 = E(B0 ^ last ^ last) = E(B0): the chain restarts from a zero IV.
            chain = self._cbc.update(_xor(blocks[:BLOCK], self._last) + blocks[BLOCK:])
            self._last = last = chain[-BLOCK:]
        return last[:self._tag_bytes]

    def _ctr(self, nonce: bytes, data: bytes) -> bytes:
        """``S0 || (data XOR S1, S2, ...)``: the counter blocks ``A0, A1, ...`` through ECB."""
        size = self._length_bytes
        count = -(-len(data) // BLOCK) + 1
        if count <= _COUNTED:  # flags || nonce in every block, XORed onto precomputed counters
            counters = _xor((bytes((size - 1,)) + nonce + bytes(size)) * count,
                            _COUNTERS[:count * BLOCK])
        else:
            prefix = bytes((size - 1,)) + nonce
            counters = b"".join([prefix + i.to_bytes(size, "big") for i in range(count)])
        with self._lock:
            stream = self._ecb.update(counters)
        return stream[:BLOCK] + (_xor(data, stream[BLOCK:BLOCK + len(data)]) if data else b"")

    def _check(self, nonce: bytes, size: int) -> None:
        if len(nonce) != self._nonce_bytes:
            raise InvalidArgument("wrong CCM nonce length")
        if size >= 1 << (8 * self._length_bytes):
            raise InvalidArgument("message too long for this CCM nonce length")

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        self._check(nonce, len(plaintext))
        tag = self._mac(nonce, plaintext, aad)
        stream = self._ctr(nonce, plaintext)
        return stream[BLOCK:] + _xor(tag, stream[:self._tag_bytes])

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext || tag``; ``InvalidTag`` on any fault."""
        cut = len(data) - self._tag_bytes
        # Too long for the nonce's length field is a fault too (not an OverflowError).
        if len(nonce) != self._nonce_bytes or not 0 <= cut < 1 << (8 * self._length_bytes):
            raise InvalidTag
        stream = self._ctr(nonce, data[:cut])
        plaintext = stream[BLOCK:]
        expected = _xor(data[cut:], stream[:self._tag_bytes])
        if not hmac.compare_digest(self._mac(nonce, plaintext, aad), expected):
            raise InvalidTag
        return plaintext


class _Sm4Aead(Aead):
    """An SM4 key in one AEAD mode: the interface of :class:`~ecert_token.crypto.aead.Aead`."""

    __slots__ = ("_decrypt", "_encrypt")
    _encrypt: Callable[[bytes, bytes, bytes], bytes]
    _decrypt: Callable[[bytes, bytes, bytes], bytes]

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise InvalidArgument(f"{self.name} keys are 16 bytes")
        mode = self._mode(key)
        self._encrypt = mode.encrypt
        self._decrypt = mode.decrypt

    def _mode(self, key: bytes) -> Ccm | _Sm4Gcm:
        raise NotImplementedError  # pragma: no cover - each mode defines it

    def encrypt(
        self, plaintext: bytes, aad: bytes, random_bytes: RandomBytes = os.urandom
    ) -> tuple[bytes, bytes]:
        """Encrypt under a fresh random nonce; return ``(nonce, ciphertext)``."""
        nonce = random_bytes(self.nonce_bytes)
        if not isinstance(nonce, bytes) or len(nonce) != self.nonce_bytes:
            raise InvalidArgument("the random source returned the wrong number of bytes")
        return nonce, self._encrypt(nonce, plaintext, aad)

    @property
    def raw_decrypt(self) -> Callable[[bytes, bytes, bytes], bytes]:
        """Decrypt ``(nonce, ciphertext, aad)``, raising ``InvalidTag`` on any fault."""
        return self._decrypt

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None on any fault."""
        if len(nonce) != self.nonce_bytes or len(ciphertext) < self.tag_bytes:
            return None
        try:
            return self._decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            return None


class _Sm4Gcm:
    """GCM over SM4 through cryptography's Cipher API (it has no SM4 AEAD class)."""

    __slots__ = ("_algorithm",)
    TAG = 16

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.SM4(key)

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return body + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        if len(nonce) != 12 or len(data) < self.TAG:
            raise InvalidTag
        cut = len(data) - self.TAG
        decryptor = Cipher(self._algorithm, modes.GCM(nonce, data[cut:])).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(data[:cut]) + decryptor.finalize()


class Sm4CcmKey(_Sm4Aead):
    """A 128-bit SM4 key in CCM with a 13-byte nonce and an 8-byte tag."""

    __slots__ = ()
    alg = ALG_SM4_CCM_16_64_128
    nonce_bytes = 13
    tag_bytes = 8
    name = "SM4-CCM-16-64-128"

    def _mode(self, key: bytes) -> Ccm:
        return Ccm(algorithms.SM4(key), self.nonce_bytes, self.tag_bytes)


class Sm4GcmKey(_Sm4Aead):
    """A 128-bit SM4 key in GCM with a 12-byte nonce and a 16-byte tag (RFC 8998)."""

    __slots__ = ()
    alg = ALG_SM4_GCM
    nonce_bytes = 12
    tag_bytes = 16
    name = "SM4-GCM"

    def _mode(self, key: bytes) -> _Sm4Gcm:
        return _Sm4Gcm(key)
