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

import functools
from dataclasses import dataclass

from ..model.construct import constructor
from ..model.limits import MAX_KID_BYTES
from . import cbor
from .cbor import CBORError

ALG = 1
CRIT = 2
KID = 4
IV = 5

TAG_ENCRYPT0 = 16
TAG_SIGN1 = 18

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


_sign1 = constructor(Sign1)
_encrypt0 = constructor(Encrypt0)


def bstr_head(length: int) -> bytes:
    """The CBOR head of a byte string of ``length`` bytes (major type 2)."""
    return cbor.string_head(cbor.BYTES, length)


_SHORT_HEADS = tuple(bstr_head(n) for n in range(256))


def _head(length: int) -> bytes:
    return _SHORT_HEADS[length] if length < 256 else bstr_head(length)


def encode_protected(alg: int, kid: bytes) -> bytes:
    """The serialized protected header ``{1: alg, 4: kid}``."""
    return cbor.dumps({ALG: alg, KID: kid})


@functools.lru_cache(maxsize=1024)
def parse_protected(protected: bytes) -> Header:
    """Read ``alg`` and ``kid`` from a protected header, refusing anything else.

    A pure function of a short byte string that every token of one key repeats,
    so its answers are kept (bounded); errors are not kept."""
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
    return b"".join((b"\x83", _ENC0_CONTEXT, _head(len(protected)), protected, b"\x40"))


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


def _bstr(data: bytes, i: int, what: str) -> tuple[bytes, int]:
    """The byte string whose heading is at ``data[i]`` (shortest heading only, within
    ``data``) and the index after it; :class:`COSEError` otherwise."""
    try:
        # The one- and two-byte headings every token has, read here; the longer
        # ones (and every refusal) by cbor.string_span.
        h = data[i] - cbor.BYTES
        if 0 <= h <= 23:
            start = i + 1
            end = start + h
        elif h == 24 and data[i + 1] >= 24:
            start = i + 2
            end = start + data[i + 1]
        else:
            start, end = cbor.string_span(data, i, cbor.BYTES)
    except (CBORError, IndexError):
        raise COSEError(f"{what} is not deterministically encoded") from None
    if end > len(data):
        raise COSEError(f"{what} is truncated")
    return data[start:end], end


# Both messages are read as the exact bytes the deterministic encoder writes
# (``encode_sign1`` / ``encode_encrypt0``), which is the only encoding this
# format accepts: the unprotected parts are not covered by the signature or
# the AEAD, so a token has exactly one binary (and one text) form.  Reading
# that layout directly is the strict decoder of these two messages: every
# byte string it accepts is one well-formed CBOR item of the right shape
# (the tests hold it to cbor2's strict decoding plus re-encoding), and it
# costs no general CBOR decode.  Both layouts are
#     <tag and array head> <bstr> <fixed unprotected header> <bstr> <bstr>
# with the IV as the COSE_Encrypt0 header's one value.


def _layout(
    data: object, start: bytes, unprotected: bytes, what: str
) -> tuple[bytes, bytes, bytes]:
    """The three byte strings of ``start <bstr> unprotected <bstr> <bstr>`` filling
    ``data`` exactly; :class:`COSEError` otherwise."""
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise COSEError(f"{what} must be bytes")
        data = bytes(data)
    if data[:2] != start:
        raise COSEError(f"not a tagged {what} of the right size")
    first, i = _bstr(data, 2, what)
    if data[i:i + len(unprotected)] != unprotected:
        raise COSEError(f"{what} has another unprotected header than this format's")
    second, i = _bstr(data, i + len(unprotected), what)
    third, i = _bstr(data, i, what)
    if i != len(data):
        raise COSEError(f"trailing bytes after the {what}")
    return first, second, third


def sign1_envelope(data: bytes) -> tuple[bytes, bytes, bytes]:
    """``(protected, payload, signature)`` of a strict tagged COSE_Sign1 envelope:
    ``d2 84 <protected> a0 <payload> <signature>``, each a byte string.

    The one reader of every signed object of this library (tokens, trust lists,
    status lists, terminal receipts and vouchers): tag 18 in its one-byte form,
    an array of exactly four items, byte-string protected header, payload and
    signature, an empty unprotected header, no trailing bytes, and the
    deterministic encoding (:func:`encode_sign1` of the parts gives ``data``
    back), so each signed object has exactly one byte form.  The protected
    header is returned unread: each kind of object requires its own header.
    Anything else raises :class:`COSEError`, which callers map to their code.
    """
    return _layout(data, b"\xd2\x84", b"\xa0", "COSE_Sign1")


def decode_sign1(data: bytes) -> Sign1:
    """Parse a tagged COSE_Sign1 of this format's shape (a token's: ``{alg, kid}``)."""
    protected, payload, signature = sign1_envelope(data)
    return _sign1(protected, parse_protected(protected), payload, signature)


def decode_encrypt0(data: bytes) -> Encrypt0:
    """Parse a tagged COSE_Encrypt0 of this format's shape:
    ``d0 83 <protected> a1 05 <iv> <ciphertext>``, each a byte string."""
    protected, iv, ciphertext = _layout(data, b"\xd0\x83", b"\xa1\x05", "COSE_Encrypt0")
    return _encrypt0(protected, parse_protected(protected), iv, ciphertext)
