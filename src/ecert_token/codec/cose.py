"""COSE_Sign1 and COSE_Encrypt0 (RFC 9052) structures, strictly parsed.

Only the structure lives here; the cryptography is in :mod:`ecert_token.crypto`.
The shapes accepted are exactly the ones this format writes:

* protected header: a map of ``alg`` (1) and ``kid`` (4), nothing else, so
  ``alg`` and ``kid`` come only from integrity-protected bytes and no
  ``crit`` (2) header can ask for semantics we do not implement;
* COSE_Sign1 unprotected header: empty;
* COSE_Encrypt0 unprotected header: the IV (5) only;
* both messages tagged (18 and 16), no trailing bytes, and their arrays in
  the deterministic encoding this format writes (the protected header and
  payload are byte strings whose contents are checked on their own).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import cbor
from .cbor import CBORError

ALG = 1
CRIT = 2
KID = 4
IV = 5

TAG_ENCRYPT0 = 16
TAG_SIGN1 = 18
_TAG_ENCRYPT0_BYTE = b"\xd0"
_TAG_SIGN1_BYTE = b"\xd2"

MAX_KID_BYTES = 16
_SIG1_CONTEXT = b"\x6aSignature1"
_ENC0_CONTEXT = b"\x68Encrypt0"


class COSEError(ValueError):
    """Bytes that are not a COSE message of the shape this format uses."""


@dataclass(frozen=True, slots=True)
class Header:
    """The protected header's two fields."""

    alg: int
    kid: bytes


@dataclass(frozen=True, slots=True)
class Sign1:
    protected: bytes
    header: Header
    payload: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Encrypt0:
    protected: bytes
    header: Header
    iv: bytes
    ciphertext: bytes


def bstr_head(length: int) -> bytes:
    """The CBOR head of a byte string of ``length`` bytes (major type 2)."""
    return cbor.string_head(cbor.BYTES, length)


_SHORT_HEADS = tuple(bstr_head(n) for n in range(256))


def _head(length: int) -> bytes:
    return _SHORT_HEADS[length] if length < 256 else bstr_head(length)


def encode_protected(alg: int, kid: bytes) -> bytes:
    """The serialized protected header ``{1: alg, 4: kid}``."""
    return cbor.dumps({ALG: alg, KID: kid})


def parse_protected(protected: bytes) -> Header:
    """Read ``alg`` and ``kid`` from a protected header, refusing anything else."""
    try:
        value = cbor.loads(protected, max_depth=1)
    except CBORError as exc:
        raise COSEError("protected header is not strict CBOR") from exc
    # Exact int labels: 1.0, True or simple(1) compare equal to 1 in Python.
    if type(value) is not dict or any(type(k) is not int for k in value) or (
        value.keys() != {ALG, KID}
    ):
        raise COSEError("protected header must hold exactly alg and kid")
    alg = value[ALG]
    kid = value[KID]
    if type(alg) is not int or type(kid) is not bytes or not 1 <= len(kid) <= MAX_KID_BYTES:
        raise COSEError("protected header fields have the wrong type")
    return Header(alg, kid)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]``: the bytes Ed25519 signs."""
    return b"".join(
        (b"\x84", _SIG1_CONTEXT, _head(len(protected)), protected, b"\x40",
         _head(len(payload)), payload)
    )


def enc_structure(protected: bytes) -> bytes:
    """``["Encrypt0", protected, h'']``: the AEAD's additional data."""
    return b"".join((b"\x83", _ENC0_CONTEXT, bstr_head(len(protected)), protected, b"\x40"))


def encode_sign1(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """Tagged ``[protected, {}, payload, signature]``, deterministically encoded.

    Written byte by byte (the same bytes as the deterministic CBOR encoder
    gives, checked by the tests) because minting is on a hot path too.
    """
    return b"".join((
        b"\xd2\x84", _head(len(protected)), protected, b"\xa0",
        _head(len(payload)), payload, _head(len(signature)), signature,
    ))


def encode_encrypt0(protected: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Tagged ``[protected, {5: iv}, ciphertext]``, deterministically encoded (as above)."""
    return b"".join((
        b"\xd0\x83", _head(len(protected)), protected, b"\xa1\x05",
        _head(len(iv)), iv, _head(len(ciphertext)), ciphertext,
    ))


def _untag(data: bytes, tag_byte: bytes, what: str) -> list[object]:
    if data[:1] != tag_byte:
        raise COSEError(f"not a tagged {what}")
    try:
        value = cbor.loads(data[1:], max_depth=2)
    except CBORError as exc:
        raise COSEError(f"{what} is not strict CBOR") from exc
    if type(value) is not list:
        raise COSEError(f"{what} must be an array")
    return value


def decode_sign1(data: bytes) -> Sign1:
    """Parse a tagged COSE_Sign1 of this format's shape."""
    items = _untag(data, _TAG_SIGN1_BYTE, "COSE_Sign1")
    if len(items) != 4:
        raise COSEError("COSE_Sign1 must have four elements")
    protected, unprotected, payload, signature = items
    if type(protected) is not bytes or type(payload) is not bytes or type(signature) is not bytes:
        raise COSEError("COSE_Sign1 elements have the wrong type")
    if type(unprotected) is not dict or unprotected:
        raise COSEError("COSE_Sign1 unprotected header must be empty")
    if encode_sign1(protected, payload, signature) != data:
        raise COSEError("COSE_Sign1 is not deterministically encoded")
    return Sign1(protected, parse_protected(protected), payload, signature)


def decode_encrypt0(data: bytes) -> Encrypt0:
    """Parse a tagged COSE_Encrypt0 of this format's shape."""
    items = _untag(data, _TAG_ENCRYPT0_BYTE, "COSE_Encrypt0")
    if len(items) != 3:
        raise COSEError("COSE_Encrypt0 must have three elements")
    protected, unprotected, ciphertext = items
    if type(protected) is not bytes or type(ciphertext) is not bytes:
        raise COSEError("COSE_Encrypt0 elements have the wrong type")
    if type(unprotected) is not dict or unprotected.keys() != {IV}:
        raise COSEError("COSE_Encrypt0 unprotected header must hold only the IV")
    iv = unprotected[IV]
    if type(iv) is not bytes:
        raise COSEError("IV must be a byte string")
    # The unprotected parts are not covered by the AEAD: only the one
    # deterministic encoding is accepted, so a token has exactly one text form
    # (no float or simple-value labels, no over-long heads).
    if encode_encrypt0(protected, iv, ciphertext) != data:
        raise COSEError("COSE_Encrypt0 is not deterministically encoded")
    return Encrypt0(protected, parse_protected(protected), iv, ciphertext)


# --- The fast path --------------------------------------------------------
#
# The verifier reads both envelopes with ``split_encrypt0`` and
# ``split_sign1``: when the bytes have exactly the canonical layout this
# format writes (shortest headings, protected header ``{1: alg, 4: kid}`` in
# that order, 13-byte IV, no trailing bytes) the fields are sliced out
# directly; the strict CBOR decoder would read the same values from such
# bytes.  Any other input goes through ``decode_encrypt0`` / ``decode_sign1``,
# which give the answer or the error, so results and errors are unchanged.

EncryptParts = tuple[bytes, int, bytes, bytes, bytes, bytes]
"""``(protected, alg, kid, iv, ciphertext, enc_structure)``."""
SignParts = tuple[bytes, int, bytes, bytes, bytes, bytes]
"""``(protected, alg, kid, payload, signature, to_be_signed)``."""

_IV_HEADER = b"\xa1\x05\x4d"
"""``{5: h'<13 bytes>'}``: the unprotected header with its IV heading."""
SIGNATURE_HEADING = b"\x58\x40"
"""The heading of a 64-byte byte string: a COSE_Sign1's Ed25519 signature."""
_SIG1_PREFIX = b"\x84" + _SIG1_CONTEXT
"""The Sig_structure's first bytes: the array heading and ``"Signature1"``."""
_ENC0_PREFIX = b"\x83" + _ENC0_CONTEXT


def encrypt0_opening(alg: int, kid: bytes) -> bytes:
    """The first bytes of every canonical COSE_Encrypt0 under key ``(alg, kid)``:
    tag, array heading, protected header, and the unprotected ``{5: `` with the
    13-byte IV's heading; the IV follows."""
    protected = encode_protected(alg, kid)
    return b"\xd0\x83" + _head(len(protected)) + protected + _IV_HEADER


def sign1_opening(alg: int, kid: bytes) -> bytes:
    """The first bytes of every canonical COSE_Sign1 under key ``(alg, kid)`` whose
    payload is 24 to 255 bytes long: tag, array heading, protected header, the
    empty unprotected map, and the payload's one-byte-length heading; the
    length follows."""
    protected = encode_protected(alg, kid)
    return b"\xd2\x84" + _head(len(protected)) + protected + b"\xa0\x58"


def _protected_fields(data: bytes, start: int, end: int) -> tuple[int, bytes] | None:
    """``(alg, kid)`` if ``data[start:end]`` is a canonical ``{1: alg, 4: kid}`` with a
    one-byte alg or a private-use alg below -65536 in its shortest (five-byte) form,
    else None."""
    if end - start >= 10 and data[start + 2] == 0x3A:  # -1 - n, n a four-byte argument
        n = int.from_bytes(data[start + 3:start + 7], "big")
        head = data[start + 8]
        if (data[start] != 0xA2 or data[start + 1] != ALG or n <= 0xFFFF
                or data[start + 7] != KID or end - start != 9 + head - 0x40
                or not 0x41 <= head <= 0x40 + MAX_KID_BYTES):
            return None
        return -1 - n, data[start + 9:end]
    if (end - start < 6 or data[start] != 0xA2 or data[start + 1] != ALG
            or data[start + 3] != KID or end - start != 5 + data[start + 4] - 0x40
            or not 0x41 <= data[start + 4] <= 0x40 + MAX_KID_BYTES):
        return None
    a = data[start + 2]
    if a <= 0x17:
        return a, data[start + 5:end]
    if 0x20 <= a <= 0x37:
        return 0x1F - a, data[start + 5:end]
    return None


def split_encrypt0(data: bytes) -> EncryptParts:
    """The fields of :func:`decode_encrypt0` and the Enc_structure, with its errors."""
    try:
        if data[0] == 0xD0 and data[1] == 0x83 and 0x46 <= data[2] <= 0x57:
            p = 3 + data[2] - 0x40
            if data[p:p + 3] == _IV_HEADER:
                fields = _protected_fields(data, 3, p)
                h = data[p + 16]
                if h == 0x58 and data[p + 17] >= 24:  # the usual ciphertext heading
                    start, end = p + 18, p + 18 + data[p + 17]
                else:
                    start, end = cbor.string_span(data, p + 16, cbor.BYTES)
                if end == len(data) and fields is not None:
                    aad = b"".join((_ENC0_PREFIX, data[2:p], b"\x40"))
                    return (data[3:p], fields[0], fields[1], data[p + 3:p + 16], data[start:],
                            aad)
    except (IndexError, CBORError):
        pass
    env = decode_encrypt0(data)
    return (env.protected, env.header.alg, env.header.kid, env.iv, env.ciphertext,
            enc_structure(env.protected))


def split_sign1(data: bytes) -> SignParts:
    """The fields of :func:`decode_sign1` and the Sig_structure, with its errors."""
    try:
        if data[0] == 0xD2 and data[1] == 0x84 and 0x46 <= data[2] <= 0x57:
            p = 3 + data[2] - 0x40
            if data[p] == 0xA0:
                fields = _protected_fields(data, 3, p)
                h = data[p + 1]
                if h == 0x58 and data[p + 2] >= 24:  # the usual payload heading
                    start, end = p + 3, p + 3 + data[p + 2]
                else:
                    start, end = cbor.string_span(data, p + 1, cbor.BYTES)
                if (end + 66 == len(data) and fields is not None
                        and data[end:end + 2] == SIGNATURE_HEADING):
                    protected = data[3:p]
                    payload = data[start:end]
                    tbs = b"".join((_SIG1_PREFIX, data[2:p], b"\x40", data[p + 1:end]))
                    return protected, fields[0], fields[1], payload, data[end + 2:], tbs
    except (IndexError, CBORError):
        pass
    msg = decode_sign1(data)
    return (msg.protected, msg.header.alg, msg.header.kid, msg.payload, msg.signature,
            sig_structure(msg.protected, msg.payload))
