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

from ..errors import EcertError
from ..model import BusinessType, Channel, InsuranceType, Region, SubjectKind, TokenClaims
from . import cbor
from .cbor import CBORError

SUB = 2
EXP = 4
IAT = 6
CTI = 7
ECERT = -65537
"""Private-use claim key holding the e-certificate fields."""

_KEYS = frozenset({SUB, EXP, IAT, CTI, ECERT})


class ClaimsError(ValueError):
    """A claims map that is not of this format's shape."""


def encode_claims(claims: TokenClaims) -> bytes:
    """Deterministic CBOR of the claims map."""
    fields: list[object] = [
        claims.region.wire,
        claims.insurance_type.wire,
        claims.business_type.wire,
        claims.channel.wire,
        claims.masked_name,
        claims.subject_kind.wire,
    ]
    if claims.actor_id is not None:
        fields.append(claims.actor_id)
    return cbor.dumps(
        {
            SUB: claims.credential_id,
            EXP: claims.expires_at,
            IAT: claims.issued_at,
            CTI: claims.token_id,
            ECERT: fields,
        }
    )


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
