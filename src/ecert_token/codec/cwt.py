"""Token claims as a CWT claims map (RFC 8392) with integer keys.

Registered claims carry what they can: ``sub`` (2) is the credential id,
``exp`` (4), ``iat`` (6), ``cti`` (7, the token id).  Everything specific to
the e-certificate sits in one private-use claim (``-65537``, RFC 8392 §9.1)
as a positional array, which costs one 5-byte key instead of one per field:

    [region, insurance type, business type, channel, masked name, subject kind, actor?]

Codes travel as integers (``"01101"`` -> ``1101``).  The issuer is not a
claim: it is bound to the signing key's kid (see docs/wire-format.md).
"""

from __future__ import annotations

import struct

import cbor2

from ..errors import EcertError
from ..model import BusinessType, Channel, InsuranceType, Region, SubjectKind, TokenClaims
from ..model.construct import constructor
from . import cbor

SUB = 2
EXP = 4
IAT = 6
CTI = 7
ECERT = -65537
"""Private-use claim key holding the e-certificate fields."""

_KEYS = frozenset({SUB, EXP, IAT, CTI, ECERT})
_ECERT_KEY = b"\x3a\x00\x01\x00\x00"
"""``-65537`` as CBOR."""


class ClaimsError(ValueError):
    """A claims map that is not of this format's shape."""


_WIRE: dict[object, int] = {
    m: m.wire for cls in (InsuranceType, BusinessType, Channel, SubjectKind) for m in cls
}
"""Code-table member -> its integer wire form (the ``wire`` properties, precomputed)."""


def encode_claims(claims: TokenClaims) -> bytes:
    """Deterministic CBOR of the claims map."""
    wire = _WIRE
    exp, iat = claims.expires_at, claims.issued_at
    if _FIXED_HEADINGS and 0x10000 <= iat < exp < 0x1_0000_0000:
        # Times from 1970-01-01T18:12 to 2106 take the 4-byte heading, and every
        # code-table value has a fixed heading (region 1a, insurance and business
        # 19, channel and subject direct), so the map is written field by field
        # with two precompiled structs: the bytes of the canonical encoder
        # (checked by the tests), at half the cost.
        actor = claims.actor_id
        sub = claims.credential_id.encode()
        name = claims.masked_name.encode()
        cti = claims.token_id
        parts = [
            b"\xa5\x02", _text_head(len(sub)), sub,
            _TIMES_OUT.pack(EXP, 0x1A, exp, IAT, 0x1A, iat, CTI), _bytes_head(len(cti)), cti,
            _ECERT_OUT.pack(_ECERT_KEY, 0x86 if actor is None else 0x87, 0x1A,
                            int(claims.region.code), 0x19, wire[claims.insurance_type], 0x19,
                            wire[claims.business_type], wire[claims.channel]),
            _text_head(len(name)), name, _SMALL_UINT[wire[claims.subject_kind]],
        ]
        if actor is not None:
            actor_bytes = actor.encode()
            parts += (_text_head(len(actor_bytes)), actor_bytes)
        return b"".join(parts)
    fields: list[object] = [
        claims.region.wire,
        wire[claims.insurance_type],
        wire[claims.business_type],
        wire[claims.channel],
        claims.masked_name,
        wire[claims.subject_kind],
    ]
    if claims.actor_id is not None:
        fields.append(claims.actor_id)
    # The keys are inserted in deterministic (RFC 8949 §4.2.1) order and the
    # values hold no maps or floats, so cbor2's plain encoder writes the same
    # bytes as its canonical mode (checked by the tests), at half the cost.
    return cbor2.dumps(
        {
            SUB: claims.credential_id,
            EXP: claims.expires_at,
            IAT: claims.issued_at,
            CTI: claims.token_id,
            ECERT: fields,
        }
    )


_TEXT_HEADS = tuple(cbor.string_head(cbor.TEXT, n) for n in range(256))
_BYTES_HEADS = tuple(cbor.string_head(cbor.BYTES, n) for n in range(256))
_SMALL_UINT = tuple(bytes((n,)) for n in range(24))
_TIMES_OUT = struct.Struct(">BBIBBIB")
_ECERT_OUT = struct.Struct(">5sBBIBHBHB")
_FIXED_HEADINGS = (
    all(0x100 <= _WIRE[m] <= 0xFFFF for m in (*InsuranceType, *BusinessType))
    and all(_WIRE[m] < 24 for m in (*Channel, *SubjectKind))
)
"""The code tables fit the fixed headings the field-by-field encoder writes."""


def _text_head(length: int) -> bytes:
    return _TEXT_HEADS[length] if length < 256 else cbor.string_head(cbor.TEXT, length)


def _bytes_head(length: int) -> bytes:
    return _BYTES_HEADS[length] if length < 256 else cbor.string_head(cbor.BYTES, length)


ClaimsFields = tuple[str, int, int, bytes, int, int, int, int, str, int, str | None]
"""A claims map's values as the wire carries them, before their value checks:
``(sub, exp, iat, cti, region, insurance, business, channel, masked name,
subject kind, actor)``; codes are the integer wire forms.  :func:`read_claims`
gives them from any strictly well-formed claims map, the compiled accelerator
from the canonical layout only (``_accel.c``); both give the same tuple."""


def read_claims(payload: bytes) -> ClaimsFields:
    """The fields of a claims map: strict CBOR, exactly this format's keys, and the
    right type for every value; :class:`ClaimsError` otherwise.  The values are
    checked by :func:`claims_from_fields`.

    Read byte by byte, with no general CBOR decoder.  The layout
    :func:`encode_claims` writes (deterministic encoding, every code-table value
    in its fixed heading, times in 4 bytes) is read first, in a few slices and
    two struct reads; any other input goes to :func:`_read_any_encoding`,
    which reads every definite heading in any key order.  Together they accept
    exactly what the strict decoder (``cbor.loads``: no indefinite lengths,
    tags, duplicate keys or trailing bytes) followed by the shape checks
    accepted, with the same fields: the format has always taken the encodings
    it does not write itself (keys in another order, longer headings).  The
    tests hold this to that definition on arbitrary CBOR, on claims maps in
    every encoding and on mutated claims (``tests/codec/test_cwt.py``).
    """
    data = payload
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ClaimsError("claims are not strict CBOR")
        data = bytes(data)
    try:
        # The layout this format writes:
        #   a5 02 <text sub> 04 1a <exp:4> 06 1a <iat:4> 07 <bytes cti>
        #   3a 00 01 00 00 86|87 1a <region:4> 19 <ins:2> 19 <bus:2> <channel>
        #   <text name> <subject> [<text actor>]
        # with every string heading the shortest; anything else goes on below.
        # (A string's end past the data fails the struct read or the index after it.)
        if data[0] == 0xA5 and data[1] == SUB:
            h = data[2] - 0x60
            start, end = (3, 3 + h) if 0 <= h < 24 else _short_string(data, 2, 0x60)
            times = _TIMES_IN.unpack_from(data, end)
            if times[::2] == _TIMES_KEYS:
                sub = data[start:end].decode()
                start = end + _TIMES_IN.size
                h = data[start] - 0x40
                start, end = ((start + 1, start + 1 + h) if 0 <= h < 24
                              else _short_string(data, start, 0x40))
                cti = data[start:end]
                head = _ECERT_IN.unpack_from(data, end)
                if (head[0] == _ECERT_KEY and head[3:7:2] == _CODE_HEADS
                        and (head[1] == _SIX or head[1] == _SEVEN) and head[7] < 24):
                    start = end + _ECERT_IN.size
                    h = data[start] - 0x60
                    start, end = ((start + 1, start + 1 + h) if 0 <= h < 24
                                  else _short_string(data, start, 0x60))
                    subject = data[end]
                    if subject < 24:
                        name = data[start:end].decode()
                        actor = None
                        if head[1] == _SEVEN:
                            start, end = _short_string(data, end + 1, 0x60)
                            actor = data[start:end].decode()
                        else:
                            end += 1
                        if end == len(data):
                            return (sub, times[1], times[3], cti, head[2], head[4], head[6],
                                    head[7], name, subject, actor)
    except (IndexError, struct.error, UnicodeDecodeError):
        pass
    try:
        return _read_any_encoding(data)
    except (IndexError, UnicodeDecodeError):
        raise ClaimsError("claims are not strict CBOR") from None


_TIMES_IN = struct.Struct(">HIHIB")
_TIMES_KEYS = (EXP << 8 | 0x1A, IAT << 8 | 0x1A, CTI)
"""``04 1a <exp> 06 1a <iat> 07``: the keys and 4-byte headings read as numbers."""
_ECERT_IN = struct.Struct(">5sHIBHBHB")
_SIX = 0x861A
_SEVEN = 0x871A
"""The e-certificate array's heading (6 or 7 items) and its first item's (4 bytes)."""
_CODE_HEADS = (0x19, 0x19)
"""The 2-byte headings of the insurance and business codes."""


def _short_string(data: bytes, i: int, major: int) -> tuple[int, int]:
    """``(start, end)`` of the string of ``major`` whose heading at ``i`` is 1 or 2
    bytes long and the shortest; ``IndexError`` for anything else (the caller then
    reads the input in general)."""
    h = data[i] - major
    if 0 <= h < 24:
        end = i + 1 + h
    elif h == 24 and data[i + 1] >= 24:
        end = i + 2 + data[i + 1]
        i += 1
    else:
        raise IndexError
    if end > len(data):
        raise IndexError
    return i + 1, end


def _read_any_encoding(data: bytes) -> ClaimsFields:
    """:func:`read_claims` on ``bytes`` in any strict encoding: every definite heading,
    keys in any order; a cut-off item raises ``IndexError``, text that is not UTF-8
    ``UnicodeDecodeError``."""
    n = len(data)
    b, count, i = _head(data, 0)
    if b & 0xE0 != 0xA0 or count != 5:
        raise ClaimsError("claims map has missing or unknown keys")
    sub = cti = ecert = None
    exp = iat = -1
    seen = 0
    for _ in range(5):
        # The key: an integer (major type 0 or 1), one of the five, each once.
        b, key, i = _head(data, i)
        if b >= 0x40:
            raise ClaimsError("claims map has missing or unknown keys")
        if b >= 0x20:
            key = -1 - key
        bit = _KEY_BITS.get(key, 0)
        if not bit or seen & bit:
            raise ClaimsError("claims map has missing or unknown keys")
        seen |= bit
        b, arg, i = _head(data, i)
        major = b & 0xE0
        if key == SUB:
            if major != 0x60:
                raise ClaimsError("claims have values of the wrong type")
            end = i + arg
            if end > n:
                raise IndexError
            sub = data[i:end].decode()
            i = end
        elif key == CTI:
            if major != 0x40:
                raise ClaimsError("claims have values of the wrong type")
            end = i + arg
            if end > n:
                raise IndexError
            cti = data[i:end]
            i = end
        elif key == ECERT:
            if major != 0x80 or not 6 <= arg <= 7:
                raise ClaimsError("e-certificate claim must be an array of 6 or 7 items")
            ecert, i = _read_ecert(data, i, arg)
        else:  # EXP or IAT
            if major > 0x20:
                raise ClaimsError("claims have values of the wrong type")
            if major:
                arg = -1 - arg
            if key == EXP:
                exp = arg
            else:
                iat = arg
    if i != n:
        raise ClaimsError("claims are not strict CBOR")
    assert sub is not None and cti is not None and ecert is not None
    region, ins, bus, channel, name, subject, actor = ecert
    return sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor


_KEY_BITS = {SUB: 1, EXP: 2, IAT: 4, CTI: 8, ECERT: 16}
"""Each claim key's bit in the set of keys read so far."""


def _head(data: bytes, i: int) -> tuple[int, int, int]:
    """``(initial byte, argument, index after the heading)`` of the item at ``data[i]``.

    Any definite heading is read (the strict decoder took the longer forms
    too); the reserved and indefinite-length ones (additional information 28
    to 31) raise :class:`ClaimsError`, and a heading cut off by the end of
    ``data`` raises ``IndexError``.
    """
    b = data[i]
    info = b & 0x1F
    if info < 24:
        return b, info, i + 1
    if info == 24:
        return b, data[i + 1], i + 2
    if info < 28:
        end = i + 1 + (1 << (info - 24))  # 2, 4 or 8 bytes
        if end > len(data):
            raise IndexError
        return b, int.from_bytes(data[i + 1:end], "big"), end
    raise ClaimsError("claims are not strict CBOR")


def _read_ecert(data: bytes, i: int, count: int) -> tuple[tuple[int, int, int, int, str, int,
                                                                str | None], int]:
    """The e-certificate array's ``count`` (6 or 7) items, whose heading ends at ``i``,
    and the index after them."""
    values: list[int | str] = []
    for position in range(count):
        b, arg, i = _head(data, i)
        major = b & 0xE0
        if position in (4, 6):
            if major != 0x60:
                raise ClaimsError("claims have values of the wrong type" if position == 4
                                  else "actor must be a credential id")
            end = i + arg
            if end > len(data):
                raise IndexError
            values.append(data[i:end].decode())
            i = end
        elif major > 0x20:
            raise ClaimsError("claims have values of the wrong type")
        else:
            values.append(-1 - arg if major else arg)
    region, ins, bus, channel, name, subject = values[:6]
    actor = values[6] if count == 7 else None
    return (region, ins, bus, channel, name, subject, actor), i  # type: ignore[return-value]


_INSURANCE = {m.wire: m for m in InsuranceType}
_BUSINESS = {m.wire: m for m in BusinessType}
_CHANNEL = {m.wire: m for m in Channel}
_SUBJECT = {m.wire: m for m in SubjectKind}
"""The model's code tables indexed by wire integer (``from_code`` gives the same)."""
_REGIONS: dict[int, Region] = {}
"""Regions already validated by :meth:`Region.of`, by wire value (bounded)."""
_MAX_REGIONS = 4096
_token_claims = constructor(TokenClaims)


def claims_from_fields(fields: ClaimsFields) -> TokenClaims:
    """The :class:`TokenClaims` the fields stand for, with every value checked by the
    model (:class:`ClaimsError` if one fails)."""
    sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor = fields
    try:
        region_obj = _REGIONS.get(region)
        if region_obj is None:
            region_obj = Region.of(region)
            if len(_REGIONS) < _MAX_REGIONS:
                _REGIONS[region] = region_obj
        return _token_claims(cti, iat, exp, sub, _SUBJECT[subject], region_obj,
                         _INSURANCE[ins], name, _BUSINESS[bus], _CHANNEL[channel], actor)
    except (EcertError, KeyError):
        raise ClaimsError("claims have invalid values") from None


def decode_claims(payload: bytes) -> TokenClaims:
    """Parse and validate a claims map; raise :class:`ClaimsError` on any fault."""
    return claims_from_fields(read_claims(payload))
