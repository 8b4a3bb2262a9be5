"""SM2 signatures over SM3 (SM3withSM2) for COSE_Sign1, with the signer identity.

What is signed (GB/T 32918.2-2016 §6.1, GM/T 0009-2012): ``e = SM3(Z || M)``
where ``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` binds the
signature to the curve, the signer's public key and the signer's ID
(``ENTL`` is the ID's length in bits, two bytes big-endian).  The default ID
is ``"1234567812345678"`` (GM/T 0009 §10); any other ID of up to 8191 bytes
may be given, and a signature made under one ID does not verify under
another.  Signatures are raw ``r || s``, 32 bytes each (64 bytes, as Ed25519's),
not DER: COSE signatures are fixed-size byte strings.

The curve arithmetic comes from the optional ``gm`` extra (gmalglib, chosen by
measurement, see docs/sm-suite.md), imported when an SM2 key is first made:
the core install never needs it.  SM3 and Z are computed here with
``cryptography``'s SM3, and public keys are validated here in plain Python
(on the curve, not the point at infinity, ``n * P = O``) before the backend
sees them, so a weak or foreign key never reaches a trust store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..errors import ErrorCode, InvalidArgument, KeyMaterialError

__all__ = [
    "ALG_SM2_SM3",
    "DEFAULT_ID",
    "PRIVATE_KEY_BYTES",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "SM2PrivateKey",
    "SM2PublicKey",
    "compress",
    "decompress",
    "decompress_python",
    "sm3",
    "validate_public_key",
    "z_value",
]

ALG_SM2_SM3 = -65537
"""COSE algorithm id (private-use range) for SM2 signatures over SM3 with Z, raw r||s."""
DEFAULT_ID = b"1234567812345678"
MAX_ID_BYTES = 8191
"""ENTL is 16 bits of bit length: an ID holds at most 65535 bits."""
PRIVATE_KEY_BYTES = 32
PUBLIC_KEY_BYTES = 64
"""``x || y``, 32 bytes each (the uncompressed point without its 0x04)."""
SIGNATURE_BYTES = 64

# sm2p256v1, GB/T 32918.5-2017 (GM/T 0003.5-2012) §3.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE_BYTES = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))

_GM_MISSING = "SM2 keys need the optional 'gm' extra: pip install 'ecert-token[gm]'"


def sm3(data: bytes) -> bytes:
    """The SM3 digest (GB/T 32905-2016) of ``data``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def check_id(uid: object) -> bytes:
    """A signer ID: 1 to 8191 bytes."""
    if not isinstance(uid, bytes) or not 1 <= len(uid) <= MAX_ID_BYTES:
        raise InvalidArgument("an SM2 signer ID is 1 to 8191 bytes")
    return uid


def z_value(public_raw: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """``Z_A`` of GB/T 32918.2 §5.5 for the public key ``x || y`` and signer ID ``uid``."""
    check_id(uid)
    entl = (len(uid) * 8).to_bytes(2, "big")
    return sm3(entl + uid + _CURVE_BYTES + public_raw)


# --- Point arithmetic for validation only (Jacobian coordinates; not constant time:
# it only ever sees public points). ---

_Jacobian = tuple[int, int, int]
_INFINITY: _Jacobian = (1, 1, 0)


def _double(p: _Jacobian) -> _Jacobian:
    x, y, z = p
    if z == 0 or y == 0:
        return _INFINITY
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = (3 * x * x + A * zz * zz) % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P


def _add(p: _Jacobian, q: _Jacobian) -> _Jacobian:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(p) if s1 == s2 else _INFINITY
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, h * z1 * z2 % P


def multiply(k: int, x: int, y: int) -> tuple[int, int] | None:
    """``k * (x, y)`` in affine coordinates, None for the point at infinity."""
    result = _INFINITY
    addend: _Jacobian = (x, y, 1)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    if result[2] == 0:
        return None
    zinv = pow(result[2], -1, P)
    zinv2 = zinv * zinv % P
    return result[0] * zinv2 % P, result[1] * zinv2 * zinv % P


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def validate_public_key(raw: object) -> bytes:
    """``x || y`` if it is a point of order ``n`` on sm2p256v1; else ``WEAK_KEY``.

    Refused: a wrong length, coordinates not below ``p``, a point off the
    curve, and (checked for itself, though the cofactor of 1 implies it for
    on-curve points) a point whose ``n``-multiple is not the point at infinity.
    The point at infinity has no ``x || y`` form, so it cannot pass.
    """
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_BYTES:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "SM2 public keys are 64 bytes (x || y)")
    x = int.from_bytes(raw[:32], "big")
    y = int.from_bytes(raw[32:], "big")
    if not on_curve(x, y):
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    if multiply(N, x, y) is not None:  # pragma: no cover - impossible with cofactor 1
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point of order n")
    return raw


COMPRESSED_BYTES = 33
"""SEC 1 §2.3.3 compressed point: ``02`` (y even) or ``03`` (y odd), then ``x``."""


def compress(raw: bytes) -> bytes:
    """The 33-byte compressed form of a validated ``x || y``."""
    return bytes((2 | raw[63] & 1,)) + raw[:32]


def decompress(data: object) -> bytes:
    """``x || y`` of a compressed point (SEC 1 §2.3.4), validated; else ``WEAK_KEY``.

    The backend decompresses (two to four times faster than the square root in
    Python, and this runs on a terminal's uncached path) and its answer is
    checked here: the same ``x``, the sign bit asked for, and on the curve.
    On the curve and not the point at infinity makes it a point of order ``n``
    (cofactor 1; :func:`validate_public_key`'s explicit ``n * P`` guard costs
    about 4 ms in Python, too much for that path).  :func:`decompress_python`
    is the reference the tests hold the backend to.
    """
    if not isinstance(data, bytes) or len(data) != COMPRESSED_BYTES or data[0] not in (2, 3):
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a compressed SM2 point")
    try:
        point = _backend().convert_pk(data, pc_mode=0)
    except ValueError:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve") from None
    if not isinstance(point, bytes) or len(point) != 65 or point[:33] != b"\x04" + data[1:]:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    if y & 1 != data[0] & 1 or not on_curve(x, y):
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    return point[1:]


def decompress_python(data: bytes) -> bytes:
    """:func:`decompress` without the backend: ``y = (x^3 + ax + b)^((p+1)/4)`` (``p = 3
    mod 4`` for sm2p256v1), the root of the sign asked for."""
    if not isinstance(data, bytes) or len(data) != COMPRESSED_BYTES or data[0] not in (2, 3):
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a compressed SM2 point")
    x = int.from_bytes(data[1:], "big")
    if x >= P:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)
    if y * y % P != rhs:
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    if y & 1 != data[0] & 1:
        y = P - y
    if not 0 < y < P:  # pragma: no cover - y = 0 would be a point of order 2 (cofactor 1)
        raise KeyMaterialError(ErrorCode.WEAK_KEY, "not a point on the SM2 curve")
    return data[1:] + y.to_bytes(32, "big")


def _backend() -> Any:
    """gmalglib's SM2 class (the ``gm`` extra), or ``KEY_FILE`` naming the extra."""
    try:
        from gmalglib.sm2 import SM2
    except ImportError:
        raise KeyMaterialError(ErrorCode.KEY_FILE, _GM_MISSING) from None
    return SM2


def backend_version() -> str | None:
    """The installed backend's name and version, None without the ``gm`` extra."""
    try:
        import gmalglib
    except ImportError:
        return None
    return f"gmalglib {getattr(gmalglib, '__version__', '?')}"


class SM2PublicKey:
    """A validated SM2 public key and the signer ID its signatures are bound to."""

    __slots__ = ("_verify", "raw", "uid")

    def __init__(self, raw: bytes, uid: bytes = DEFAULT_ID) -> None:
        self.raw = validate_public_key(raw)
        self.uid = check_id(uid)
        self._verify: Callable[[bytes, bytes], bool] = _backend()(
            pk=b"\x04" + raw, uid=uid).verify

    @classmethod
    def from_compressed(cls, data: bytes, uid: bytes = DEFAULT_ID) -> SM2PublicKey:
        """The key of a 33-byte compressed point (validated by :func:`decompress`)."""
        key = cls.__new__(cls)
        key.raw = raw = decompress(data)
        key.uid = check_id(uid)
        key._verify = _backend()(pk=b"\x04" + raw, uid=uid).verify
        return key

    @property
    def compressed(self) -> bytes:
        """The 33-byte compressed point (SEC 1 §2.3.3)."""
        return compress(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` (raw r||s) is valid for ``message``; never raises."""
        if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
            return False
        try:
            return bool(self._verify(message, signature))
        except (ValueError, TypeError):  # pragma: no cover - lengths are checked above
            return False

    @property
    def raw_verify(self) -> Callable[[bytes, bytes], object]:
        """The backend's own verify ``(message, signature)``: a truth value, or
        ``ValueError``/``TypeError`` raised for a signature it cannot read (which
        :meth:`verify` answers as False).  For the compiled accelerator, through the
        issuer routes (``keys/routes.py``), which calls it from C."""
        return self._verify

    def verify_signed(self, signed: bytes) -> bool:
        """:meth:`verify` of ``signature || message`` (the verifier's ``signed`` bytes)."""
        return self.verify(signed[:SIGNATURE_BYTES], signed[SIGNATURE_BYTES:])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and (other.raw, other.uid) == (self.raw, self.uid)

    def __hash__(self) -> int:
        return hash((self.raw, self.uid))

    def __repr__(self) -> str:
        return f"SM2PublicKey(x={self.raw[:4].hex()}...)"


RandomBytes = Callable[[int], bytes]


class SM2PrivateKey:
    """An SM2 signing key ``d`` (1 <= d <= n - 2) with the signer ID it signs under.

    ``random_bytes`` is the nonce source (big-endian bytes; os.urandom unless
    given, which only conformance tests do, to reproduce published examples).
    """

    __slots__ = ("_secret", "_signer", "public_key")

    def __init__(
        self, secret: bytes, uid: bytes = DEFAULT_ID, random_bytes: RandomBytes = os.urandom
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) != PRIVATE_KEY_BYTES:
            raise InvalidArgument("an SM2 private key is 32 bytes")
        if not 1 <= int.from_bytes(secret, "big") <= N - 2:
            raise InvalidArgument("an SM2 private key is an integer from 1 to n - 2")
        backend = _backend()
        self._secret = secret
        # The backend reads nonce bytes little-endian; ours are big-endian.
        self._signer = backend(sk=secret, uid=check_id(uid),
                               rnd_fn=lambda n: random_bytes(n)[::-1])
        self.public_key = SM2PublicKey(backend.get_pk(secret)[1:], uid)

    @classmethod
    def generate(
        cls, random_bytes: RandomBytes = os.urandom, uid: bytes = DEFAULT_ID
    ) -> SM2PrivateKey:
        """A new key from ``random_bytes`` (rejection sampling until 1 <= d <= n - 2)."""
        while True:
            secret = random_bytes(PRIVATE_KEY_BYTES)
            if 1 <= int.from_bytes(secret, "big") <= N - 2:
                return cls(secret, uid)

    @property
    def secret(self) -> bytes:
        """The 32-byte private scalar ``d``; handle with care."""
        return self._secret

    @property
    def seed(self) -> bytes:
        """:attr:`secret` under the name Ed25519 keys give their 32 private bytes."""
        return self._secret

    @property
    def uid(self) -> bytes:
        return self.public_key.uid

    def sign(self, message: bytes) -> bytes:
        """The 64-byte raw ``r || s`` signature of ``message`` under this key's ID."""
        signature: bytes = self._signer.sign(message)
        return signature

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self.public_key!r})"
