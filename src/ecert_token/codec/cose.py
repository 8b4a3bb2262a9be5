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

from ..model.limits import MAX_KID_BYTES
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


def sign1_envelope(data: bytes) -> tuple[bytes, bytes, bytes]:
    """``(protected, payload, signature)`` of a strict tagged COSE_Sign1 envelope.

    The one reader of every signed object of this library (tokens, trust lists,
    status lists, terminal receipts and vouchers): tag 18 in its one-byte form,
    an array of exactly four items, byte-string protected header, payload and
    signature, an empty unprotected header, no trailing bytes, and the
    deterministic encoding (:func:`encode_sign1` of the parts gives ``data``
    back), so each signed object has exactly one byte form.  The protected
    header is returned unread: each kind of object requires its own header.
    Anything else raises :class:`COSEError`, which callers map to their code.
    """
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
    return protected, payload, signature


def decode_sign1(data: bytes) -> Sign1:
    """Parse a tagged COSE_Sign1 of this format's shape (a token's: ``{alg, kid}``)."""
    protected, payload, signature = sign1_envelope(data)
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
