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
from collections.abc import Callable
from enum import Enum
from typing import TypeVar

import cbor2

from ..errors import EcertError
from ..model import BusinessType, Channel, InsuranceType, Region, SubjectKind, TokenClaims
from ..model.claims import MAX_TOKEN_ID_BYTES, MIN_TOKEN_ID_BYTES
from ..model.credential import MAX_MASKED_NAME_CHARS, validate_credential_id
from ..model.region import PROVINCE_PREFIXES
from . import cbor
from .cbor import TEXT, CBORError
from .trusted import twin_of

_E = TypeVar("_E", bound=Enum)

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


def _int(value: object) -> int:
    if type(value) is not int:
        raise ClaimsError("expected an integer")
    return value


def decode_claims(payload: bytes) -> TokenClaims:
    """Parse and validate a claims map; raise :class:`ClaimsError` on any fault."""
    try:
        value = cbor.loads(payload, max_depth=2)
    except CBORError as exc:
        raise ClaimsError("claims are not strict CBOR") from exc
    # Exact int keys: 4.0 or simple(4) would compare equal to the claim key 4.
    if type(value) is not dict or any(type(k) is not int for k in value) or (
        value.keys() != _KEYS
    ):
        raise ClaimsError("claims map has missing or unknown keys")
    fields = value[ECERT]
    if type(fields) is not list or len(fields) not in (6, 7):
        raise ClaimsError("e-certificate claim must be an array of 6 or 7 items")
    actor = fields[6] if len(fields) == 7 else None
    if len(fields) == 7 and type(actor) is not str:
        raise ClaimsError("actor must be a credential id")
    try:
        return TokenClaims(
            token_id=value[CTI],
            issued_at=_int(value[IAT]),
            expires_at=_int(value[EXP]),
            credential_id=value[SUB],
            region=Region.of(_int(fields[0])),
            insurance_type=InsuranceType.from_code(_int(fields[1])),
            business_type=BusinessType.from_code(_int(fields[2])),
            channel=Channel.from_code(_int(fields[3])),
            masked_name=fields[4],
            subject_kind=SubjectKind.from_code(_int(fields[5])),
            actor_id=actor,
        )
    except EcertError as exc:
        raise ClaimsError("claims have invalid values") from exc


# --- The fast path --------------------------------------------------------
#
# ``decode_claims_fast`` reads the layout that ``encode_claims`` writes for
# realistic values directly from the bytes, with the same checks as
# ``decode_claims`` and ``TokenClaims``, and builds the claims without a
# second validation pass.  Every heading it accepts is the shortest form, so
# the strict CBOR decoder would read the same values from the same bytes, and
# it insists that the item ends exactly at the end of the payload.  Anything
# else (another key order, longer headings, wider integers, any invalid
# value) goes to ``decode_claims``, which gives the answer, so errors stay
# exactly those of the general path.

_TIMES = struct.Struct(">BBIBBIBB")
"""``04 1a exp:u32 06 1a iat:u32 07 cti-heading``."""
_ECERT_HEAD = struct.Struct(">5sBBIBHBHB")
"""``3a 00 01 00 00 array 1a region:u32 19 insurance:u16 19 business:u16 channel``."""


def _by_wire(cls: type[_E], lookup: Callable[[int], _E]) -> dict[int, _E]:
    """Integer wire code -> member, exactly as ``lookup`` answers for it."""
    table = {}
    for member in cls:
        code = int(member.value)
        if lookup(code) is member:
            table[code] = member
    return table


_INSURANCE = _by_wire(InsuranceType, InsuranceType.from_code)
_BUSINESS = _by_wire(BusinessType, BusinessType.from_code)
_CHANNEL = _by_wire(Channel, Channel.from_code)
_SUBJECT = _by_wire(SubjectKind, SubjectKind.from_code)
_CLAIMS_TWIN = twin_of(TokenClaims)
_REGIONS: dict[int, Region] = {}
"""Validated regions by wire value, shared (Region is immutable); bounded by _MAX_REGIONS."""
_MAX_REGIONS = 4096
_new = object.__new__
_set = object.__setattr__


def decode_claims_fast(payload: bytes) -> TokenClaims:
    """Same result and same errors as :func:`decode_claims`, faster on this format's layout."""
    claims = decode_claims_layout(payload)
    return claims if claims is not None else decode_claims(payload)


def decode_claims_layout(p: bytes) -> TokenClaims | None:
    """The claims if ``p`` has the canonical layout and valid values, else None."""
    fields = claims_layout_fields(p)
    return claims_from_fields(fields) if fields is not None else None


ClaimsFields = tuple[str, int, int, bytes, int, int, int, int, str, int, str | None, bool]
"""The values read from the canonical layout, before their checks: ``(sub, exp, iat,
cti, region, insurance, business, channel, masked name, subject kind, actor,
plain_id)``; ``plain_id`` says ``sub`` is 6 to 23 ASCII letters and digits."""


def claims_layout_fields(p: bytes) -> ClaimsFields | None:
    """The fields of ``p`` if it has the canonical layout (shortest headings, keys in
    order, nothing after the map), else None.  ``codec/_canonical.c`` reads the
    same layout and gives the same answers."""
    try:
        if p[0] != 0xA5 or p[1] != SUB:
            return None
        h = p[2]
        if 0x66 <= h <= 0x77:  # the usual short id, inline
            i = h - 0x5D
            sub_bytes = p[3:i]
            # An ASCII letters-and-digits id of 6 to 23 characters passes
            # validate_credential_id; anything else is checked by it later.
            plain_id = sub_bytes.isalnum()
            sub = sub_bytes.decode()
        else:
            start, i = cbor.string_span(p, 2, TEXT)
            sub = p[start:i].decode()
            plain_id = False
        k_exp, h_exp, exp, k_iat, h_iat, iat, k_cti, h_cti = _TIMES.unpack_from(p, i)
        if (k_exp != EXP or h_exp != 0x1A or exp < 0x10000 or k_iat != IAT or h_iat != 0x1A
                or iat < 0x10000 or k_cti != CTI or not 0x40 <= h_cti <= 0x57):
            return None
        i += 14
        j = i + h_cti - 0x40
        cti = p[i:j]
        key, array, h_reg, region, h_ins, ins, h_bus, bus, channel = _ECERT_HEAD.unpack_from(p, j)
        if (key != _ECERT_KEY or h_reg != 0x1A or region < 0x10000 or h_ins != 0x19
                or ins < 0x100 or h_bus != 0x19 or bus < 0x100 or channel > 0x17):
            return None
        i = j + 18
        h = p[i]
        if 0x60 <= h <= 0x77:  # the usual short name, inline
            j = i + h - 0x5F
            name = p[i + 1:j].decode()
        else:
            start, j = cbor.string_span(p, i, TEXT)
            name = p[start:j].decode()
        subject = p[j]
        i = j + 1
        actor: str | None = None
        if array == 0x87:
            start, i = cbor.string_span(p, i, TEXT)
            actor = p[start:i].decode()
        elif array != 0x86:
            return None
    except (IndexError, CBORError, struct.error, UnicodeDecodeError):
        return None
    if i != len(p) or subject > 0x17:
        return None
    return sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor, plain_id


def claims_from_fields(fields: ClaimsFields) -> TokenClaims | None:
    """The claims, if the fields pass every check of ``TokenClaims`` and the code
    tables, else None (the general decoder then gives the error)."""
    sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor, plain_id = fields
    # The checks of TokenClaims.__post_init__ and of the code tables.
    insurance_type = _INSURANCE.get(ins)
    business_type = _BUSINESS.get(bus)
    channel_member = _CHANNEL.get(channel)
    subject_kind = _SUBJECT.get(subject)
    region_obj = _REGIONS.get(region)  # holds valid regions only
    if (insurance_type is None or business_type is None or channel_member is None
            or subject_kind is None or not MIN_TOKEN_ID_BYTES <= len(cti) <= MAX_TOKEN_ID_BYTES
            or exp <= iat or actor == sub
            or (region_obj is None and (not 100000 <= region <= 999999
                                        or region // 10000 not in PROVINCE_PREFIXES))):
        return None
    # validate_masked_name, in the form that costs least for a str: at most two
    # visible characters also rules out its "four digits in a row" check.
    if (not 1 <= len(name) <= MAX_MASKED_NAME_CHARS or "*" not in name
            or len(name) - name.count("*") - name.count(" ") > 2 or not name.isprintable()):
        return None
    try:
        if not plain_id:
            validate_credential_id(sub)
        if actor is not None:
            validate_credential_id(actor)
    except EcertError:
        return None
    if region_obj is None:
        region_obj = _new(Region)
        _set(region_obj, "code", str(region))
        if len(_REGIONS) < _MAX_REGIONS:
            _REGIONS[region] = region_obj
    c = _new(_CLAIMS_TWIN)
    c.token_id = cti
    c.issued_at = iat
    c.expires_at = exp
    c.credential_id = sub
    c.subject_kind = subject_kind
    c.region = region_obj
    c.insurance_type = insurance_type
    c.masked_name = name
    c.business_type = business_type
    c.channel = channel_member
    c.actor_id = actor
    c.__class__ = TokenClaims
    claims: TokenClaims = c
    return claims
