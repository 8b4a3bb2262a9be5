"""A presentation: what the phone shows, minted offline from its credential and device key.

One QR code, text ``EP1:`` + Base45 of a tagged COSE_Sign1 made by the
device key::

    COSE_Sign1 [tag 18]
      protected   {13 (kcwt): sealed credential}            (RFC 9528 "kcwt")
      unprotected {}
      payload     {4: exp, 6: iat, 7: cti (8 bytes), [39: cnonce], -65540: business type,
                   [-65541: payment binding]}
      signature   64 bytes by the device key named in the credential's ``cnf``

The algorithm is the device key's: EdDSA for an Ed25519 device, SM2 over SM3
(default signer ID) for an SM2 device (holder/device.py).  The credential's
``cnf`` key fixes it, so the header does not repeat it (2 bytes saved, 6 for
an SM2 device); the terminal verifies with the ``cnf`` key's algorithm.
Presentations of earlier phones name it, ``{1: -8 or -65537, 13: ...}``: the
terminal reads both and refuses a header that names another algorithm than the
key's (``malformed``); the presentation never chooses it.

The credential travels in the protected header, so the device signature
covers it: a presentation cannot be moved onto another credential.  The
``kcwt`` header is the one EDHOC registered for "a CWT carrying a COSE_Key in
``cnf``", which is exactly a holder credential.  ``EP1:`` (presentation,
version 1) lets the text stage tell a presentation from a platform code
(``EC1:``) by its first characters.

The ``cti`` is 8 random bytes, or, when the platform handed the phone a
handle key with its credential, ``salt (2 random bytes) | tag (6 bytes)``:
the MAC that makes the presentation's settlement handle resolvable
(:func:`ecert_token.model.settlement.holder_tag`).  The payment binding
(:mod:`ecert_token.holder.payment`) says which payment the person confirmed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from .. import _speedups
from ..codec import cbor, cose
from ..codec.base45 import Base45Error, b45encode
from ..codec.cbor import BYTES, CBORError
from ..crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey
from ..crypto.sm2 import ALG_SM2_SM3
from ..errors import InvalidArgument
from ..model import BusinessType
from ..model.limits import MAX_TEXT_CHARS, PRESENTATION_PREFIX
from ..model.settlement import HOLDER_SALT_BYTES, holder_tag
from ..token.policy import DEFAULT_TTL, MAX_TTL, MIN_TTL
from .device import DeviceKey
from .payment import BINDING, PaymentBinding, Terms, bind

PREFIX = PRESENTATION_PREFIX
"""``EP1:`` (model/limits.py); the longest presentation this library makes (sealed,
delegation, 32-character ids) is under the shared :data:`MAX_TEXT_CHARS` (600)."""
KCWT = 13
EXP, IAT, CTI, CNONCE = 4, 6, 7, 39
BUSINESS = -65540
ID_BYTES = 8
MAX_CHALLENGE_BYTES = 16
_OPENING = b"\xa1\x0d"
"""``{13: `` in deterministic CBOR; the sealed credential follows (the algorithm is the
``cnf`` key's).  What :func:`present` writes."""
_PROTECTED_OPENING = b"\xa2\x01\x27\x0d"
"""``{1: -8, 13: `` (earlier phones, an Ed25519 device key): read, no longer written."""
_SM2_OPENING = b"\xa2\x01\x3a\x00\x01\x00\x00\x0d"
"""``{1: -65537, 13: `` (earlier phones, an SM2 device key): read, no longer written."""
_NAMED = {ALG_EDDSA: _PROTECTED_OPENING, ALG_SM2_SM3: _SM2_OPENING}
_KEYS = frozenset({EXP, IAT, CTI, BUSINESS})
_KEYS_CHALLENGE = _KEYS | {CNONCE}
_KEY_SETS = (_KEYS, _KEYS_CHALLENGE, _KEYS | {BINDING}, _KEYS_CHALLENGE | {BINDING})
HANDLE_KEY_BYTES = 32
RandomBytes = Callable[[int], bytes]


class PresentationError(ValueError):
    """Text that is not a presentation of this format's shape."""


@dataclass(frozen=True, slots=True)
class PresentationClaims:
    """The device-signed part: when, which step, a random id, and an optional challenge."""

    issued_at: int
    expires_at: int
    presentation_id: bytes
    business_type: BusinessType
    challenge: bytes | None = None
    binding: PaymentBinding | None = None


@dataclass(frozen=True, slots=True)
class Presentation:
    """A parsed (not yet verified) presentation.

    ``sealed`` is the credential envelope; ``signed`` is the device
    signature followed by the Sig_structure, as libsodium's
    ``crypto_sign_open`` takes it; ``alg`` the header's algorithm (which
    must be the cnf key's), None when the header leaves it to the ``cnf`` key.
    """

    sealed: bytes
    claims: PresentationClaims
    signed: bytes
    alg: int | None = None


def is_presentation(text: object) -> bool:
    """Does ``text`` carry the presentation prefix (``EP1:``)?"""
    if isinstance(text, str):
        return text.startswith(PREFIX)
    if isinstance(text, bytes | bytearray):
        return bytes(text[:4]) == PREFIX.encode()
    return False


def encode_payload(claims: PresentationClaims) -> bytes:
    value: dict[int, object] = {EXP: claims.expires_at, IAT: claims.issued_at,
                                CTI: claims.presentation_id, BUSINESS: claims.business_type.wire}
    if claims.challenge is not None:
        value[CNONCE] = claims.challenge
    if claims.binding is not None:
        value[BINDING] = claims.binding.value()
    return cbor.dumps(value)


def present(
    sealed: bytes,
    device: DeviceKey | Ed25519PrivateKey,
    business_type: BusinessType,
    *,
    now: int,
    ttl: int = DEFAULT_TTL,
    challenge: bytes | None = None,
    random_bytes: RandomBytes = os.urandom,
    handle_key: bytes | None = None,
    payment: Terms | None = None,
    counter: int | None = None,
    name_alg: bool = False,
) -> str:
    """Mint one presentation on the phone, with no network: the QR text.

    ``handle_key`` (from the credential file) makes the presentation id carry
    the settlement handle's tag.  ``payment`` binds what the person confirmed
    (a :class:`~ecert_token.holder.payment.Charge` read from the terminal, or a
    :class:`~ecert_token.holder.payment.Ceiling`) with the device's next
    ``counter`` value; payment-class business types only.  ``device`` signs it
    with its own algorithm (an Ed25519PrivateKey is taken as an Ed25519
    device key); the header leaves the algorithm to the credential's ``cnf`` key
    unless ``name_alg`` (the earlier layout ``{1: alg, 13: ...}``, 2 or 6 bytes
    more, which terminals still read).
    """
    if not isinstance(sealed, bytes) or not sealed:
        raise InvalidArgument("sealed credential must be bytes")
    if isinstance(device, Ed25519PrivateKey):
        device = DeviceKey(device)
    if not isinstance(device, DeviceKey):
        raise InvalidArgument("device must be a DeviceKey")
    if not isinstance(business_type, BusinessType):
        raise InvalidArgument("business_type must be a BusinessType")
    if isinstance(now, bool) or not isinstance(now, int) or not 0 <= now < 2**40 - MAX_TTL:
        raise InvalidArgument("now must be a Unix time in whole seconds")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidArgument(f"ttl must be {MIN_TTL} to {MAX_TTL} seconds")
    if challenge is not None and (
        not isinstance(challenge, bytes) or not 1 <= len(challenge) <= MAX_CHALLENGE_BYTES
    ):
        raise InvalidArgument("challenge must be 1 to 16 bytes")
    if handle_key is not None and (
        not isinstance(handle_key, bytes) or len(handle_key) != HANDLE_KEY_BYTES
    ):
        raise InvalidArgument("a handle key is 32 bytes")
    if payment is not None and not business_type.is_payment:
        raise InvalidArgument("a payment binding is for payment-class business types")
    if (payment is None) != (counter is None):
        raise InvalidArgument("a payment binding needs the device counter (and only then)")
    n = ID_BYTES if handle_key is None else HOLDER_SALT_BYTES
    presentation_id = random_bytes(n)
    if not isinstance(presentation_id, bytes) or len(presentation_id) != n:
        raise InvalidArgument("the random source returned the wrong number of bytes")
    if handle_key is not None:
        presentation_id += holder_tag(handle_key, now + ttl, presentation_id)
    binding = None if payment is None or counter is None else bind(payment, counter,
                                                                    presentation_id)
    claims = PresentationClaims(now, now + ttl, presentation_id, business_type, challenge,
                                binding)
    protected = (_NAMED[device.alg] if name_alg else _OPENING) + sealed
    payload = encode_payload(claims)
    signature = device.sign(cose.sig_structure(protected, payload))
    return PREFIX + b45encode(cose.encode_sign1(protected, payload, signature))


def _fail(detail: str) -> PresentationError:
    return PresentationError(detail)


def parse(text: str | bytes) -> Presentation:
    """Check length, prefix, Base45 and the exact COSE_Sign1 layout; nothing verified yet."""
    blob, iat, exp, cti, business, challenge, signed, alg, binding = split(text)
    return Presentation(blob, PresentationClaims(iat, exp, cti, business, challenge, binding),
                        signed, alg)


Split = tuple[bytes, int, int, bytes, BusinessType, "bytes | None", bytes, "int | None",
              "PaymentBinding | None"]
"""``(credential blob, iat, exp, presentation id, business type, challenge, signed, alg,
payment binding)``."""
_FAST_PAYLOAD = struct.Struct(">BBBIBBIBB8s5sBH")
_FAST_HEAD = (0xA4, EXP, 0x1A, IAT, 0x1A, CTI, 0x48, b"\x3a\x00\x01\x00\x03", 0x19)
_BY_WIRE = {m.wire: m for m in BusinessType}


def split(text: str | bytes) -> Split:
    """:func:`parse` as a tuple (the verifier's hot path), with the same checks and errors."""
    if type(text) is not str:
        if isinstance(text, bytes | bytearray):
            if len(text) > MAX_TEXT_CHARS:
                raise _fail("too long")
            try:
                text = bytes(text).decode("ascii")
            except UnicodeDecodeError:
                raise _fail("not ASCII") from None
        else:
            raise _fail("not text")
    if len(text) > MAX_TEXT_CHARS:
        raise _fail("too long")
    if not text.startswith(PREFIX):
        raise _fail("unknown prefix")
    return split_body(text[4:])


def split_body(body: str) -> Split:
    """:func:`split` of the Base45 text after ``EP1:``, which the caller has read (at
    most :data:`MAX_TEXT_CHARS` in all): the verifier's dispatch, which reads the
    text's kind once for both kinds of code (token/verify.py)."""
    try:
        data = _b45decode(body)
    except Base45Error:
        raise _fail("not Base45") from None
    try:
        if data[0] != 0xD2 or data[1] != 0x84:
            raise _fail("not a tagged COSE_Sign1 of four")
        if data[2] == 0x58 and data[3] >= 24:  # the usual one-byte length heading
            start, end = 4, 4 + data[3]
        else:
            start, end = cbor.string_span(data, 2, BYTES)
        if data[end] != 0xA0:
            raise _fail("unprotected header must be empty")
        if data[end + 1] == 0x58 and data[end + 2] >= 24:
            p_start, p_end = end + 3, end + 3 + data[end + 2]
        else:
            p_start, p_end = cbor.string_span(data, end + 1, BYTES)
        if data[p_end:p_end + 2] != _SIGNATURE_HEADING or len(data) != p_end + 66:
            raise _fail("signature must be 64 bytes and last")
    except (IndexError, CBORError):
        raise _fail("not a COSE_Sign1 in deterministic encoding") from None
    protected = data[start:end]
    alg: int | None
    if protected[:2] == _OPENING and len(protected) > 2:
        alg, blob = None, protected[2:]
    elif protected[:4] == _PROTECTED_OPENING and len(protected) > 4:
        alg, blob = ALG_EDDSA, protected[4:]
    elif protected[:8] == _SM2_OPENING and len(protected) > 8:
        alg, blob = ALG_SM2_SM3, protected[8:]
    else:
        raise _fail("protected header must be {13: credential} or {1: -8 or -65537, 13: "
                    "credential}")
    payload = data[p_start:p_end]
    fast = _fast_payload(payload)
    binding = None
    if fast is None:
        pc = decode_payload(payload)
        iat, exp, cti, business, challenge, binding = (
            pc.issued_at, pc.expires_at, pc.presentation_id, pc.business_type, pc.challenge,
            pc.binding)
    else:
        iat, exp, cti, business, challenge = fast
    # signature + Sig_structure, as crypto_sign_open takes it
    signed = b"".join((data[p_end + 2:], _SIG1_OPENING, data[2:end], b"\x40",
                       data[end + 1:p_end]))
    return blob, iat, exp, cti, business, challenge, signed, alg, binding


_b45decode: Callable[[str], bytes] = _speedups.b45decode
"""Base45 decoding as chosen in ``_speedups`` (the one selection point of compiled code)."""
_SIG1_OPENING = b"\x84\x6aSignature1"
_SIGNATURE_HEADING = b"\x58\x40"
"""The heading of a 64-byte byte string: the device's signature (Ed25519 or SM2 r || s)."""


def _fast_payload(payload: bytes) -> tuple[int, int, bytes, BusinessType, None] | None:
    """The payload's fields if it has exactly the layout :func:`present` writes without a
    challenge (the values a strict decode gives), else None (then the strict decoder runs)."""
    if len(payload) != 31:
        return None
    (m, k_exp, h_exp, exp, k_iat, h_iat, iat, k_cti, h_cti, cti, k_bt, h_bt,
     bt) = _FAST_PAYLOAD.unpack(payload)
    if (m, k_exp, h_exp, k_iat, h_iat, k_cti, h_cti, k_bt, h_bt) != _FAST_HEAD or not (
        0x10000 <= iat < exp
    ):
        return None
    business = _BY_WIRE.get(bt)
    if business is None:
        return None
    return iat, exp, cti, business, None


def decode_payload(payload: bytes) -> PresentationClaims:
    """The device-signed claims, strictly: exactly the keys and types this format writes."""
    try:
        value = cbor.loads(payload, max_depth=2)
    except CBORError:
        raise _fail("payload is not strict CBOR") from None
    if type(value) is not dict or any(type(k) is not int for k in value) or (
        value.keys() not in _KEY_SETS
    ):
        raise _fail("payload has the wrong keys")
    exp, iat, cti, business = value[EXP], value[IAT], value[CTI], value[BUSINESS]
    challenge = value.get(CNONCE)
    if type(exp) is not int or type(iat) is not int or not 0 <= iat < exp < 2**40:
        raise _fail("times must be whole seconds with iat before exp")
    if type(cti) is not bytes or len(cti) != ID_BYTES:
        raise _fail("presentation id must be 8 bytes")
    if challenge is not None and (
        type(challenge) is not bytes or not 1 <= len(challenge) <= MAX_CHALLENGE_BYTES
    ):
        raise _fail("challenge must be 1 to 16 bytes")
    if type(business) is not int:
        raise _fail("business type must be an integer")
    try:
        business_type = BusinessType.from_code(business)
    except InvalidArgument:
        raise _fail("unknown business type") from None
    binding = None
    if BINDING in value:
        try:
            binding = PaymentBinding.of_value(value[BINDING])
        except InvalidArgument as exc:
            raise _fail(exc.detail or "invalid payment binding") from None
        if not business_type.is_payment:
            raise _fail("a payment binding on an identity-class step")
    return PresentationClaims(iat, exp, cti, business_type, challenge, binding)
