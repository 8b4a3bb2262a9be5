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
from ..model.construct import construct
from . import cbor
from .cbor import CBORError

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
    checked by :func:`claims_from_fields`."""
    try:
        value = cbor.loads(payload, max_depth=2)
    except CBORError as exc:
        raise ClaimsError("claims are not strict CBOR") from exc
    # Exact int keys: 4.0 or simple(4) would compare equal to the claim key 4.
    # (Plain loops and chained tests, no generators: this is on the pure-Python
    # verifier's hot path.)
    if type(value) is not dict or value.keys() != _KEYS:
        raise ClaimsError("claims map has missing or unknown keys")
    for key in value:
        if type(key) is not int:
            raise ClaimsError("claims map has missing or unknown keys")
    ecert = value[ECERT]
    if type(ecert) is not list or not 6 <= len(ecert) <= 7:
        raise ClaimsError("e-certificate claim must be an array of 6 or 7 items")
    actor = ecert[6] if len(ecert) == 7 else None
    if len(ecert) == 7 and type(actor) is not str:
        raise ClaimsError("actor must be a credential id")
    sub, exp, iat, cti = value[SUB], value[EXP], value[IAT], value[CTI]
    region, ins, bus, channel, name, subject = ecert[:6]
    if not (type(sub) is str and type(exp) is int and type(iat) is int
            and type(cti) is bytes and type(region) is int and type(ins) is int
            and type(bus) is int and type(channel) is int and type(name) is str
            and type(subject) is int):
        raise ClaimsError("claims have values of the wrong type")
    return sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor


_INSURANCE = {m.wire: m for m in InsuranceType}
_BUSINESS = {m.wire: m for m in BusinessType}
_CHANNEL = {m.wire: m for m in Channel}
_SUBJECT = {m.wire: m for m in SubjectKind}
"""The model's code tables indexed by wire integer (``from_code`` gives the same)."""
_REGIONS: dict[int, Region] = {}
"""Regions already validated by :meth:`Region.of`, by wire value (bounded)."""
_MAX_REGIONS = 4096


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
        return construct(TokenClaims, cti, iat, exp, sub, _SUBJECT[subject], region_obj,
                         _INSURANCE[ins], name, _BUSINESS[bus], _CHANNEL[channel], actor)
    except (EcertError, KeyError):
        raise ClaimsError("claims have invalid values") from None


def decode_claims(payload: bytes) -> TokenClaims:
    """Parse and validate a claims map; raise :class:`ClaimsError` on any fault."""
    return claims_from_fields(read_claims(payload))
