"""The claims of a holder credential (CWT, RFC 8392), strictly encoded and decoded.

A holder credential is what the platform signs once at activation: it binds
the device's public key (``cnf``, RFC 8747) to the person's pseudonymous
credential id and the attributes a terminal needs, for days to weeks.  A
family **delegation** is the same structure naming the member as ``sub``, the
holder as actor and the holder's device key in ``cnf``; so a terminal checks
both the same way.  Claims map (deterministic CBOR, integer keys)::

    2      sub      credential id (the member, on a delegation)
    4      exp      end of validity, Unix seconds
    6      iat      activation time
    8      cnf      {1: COSE_Key {1: 1 (OKP), -1: 6 (Ed25519), -2: x}}
    65535  status   {"status_list": {"idx": index, "uri": list uri}}  (Token Status List draft)
    -65538 holder   [region, insurance type, channel, masked name, subject kind]
    -65539 actor    the holder's credential id (delegations only)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import cbor
from ..codec.cbor import CBORError
from ..crypto.ed25519 import PUBLIC_KEY_BYTES
from ..errors import InvalidArgument
from ..model import Channel, InsuranceType, Region, SubjectKind
from ..model.credential import validate_credential_id, validate_masked_name
from ..model.region import PROVINCE_PREFIXES

SUB = 2
EXP = 4
IAT = 6
CNF = 8
STATUS = 65535
HOLDER = -65538
ACTOR = -65539
COSE_KEY = 1
_KTY, _CRV, _X = 1, -1, -2
_KTY_OKP, _CRV_ED25519 = 1, 6
STATUS_LIST = "status_list"
IDX = "idx"
URI = "uri"
MAX_URI_CHARS = 64
MAX_INDEX = 2**32 - 1
_KEYS = frozenset({SUB, EXP, IAT, CNF, STATUS, HOLDER})
_KEYS_ACTOR = _KEYS | {ACTOR}


class HolderClaimsError(ValueError):
    """Bytes that are not a holder credential's claims map."""


def validate_uri(value: object) -> str:
    """A status list URI: 1 to 64 printable ASCII characters with a scheme."""
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_URI_CHARS or not (
        value.isascii() and value.isprintable() and " " not in value
    ) or ":" not in value[1:]:
        raise InvalidArgument("status list uri must be 3 to 64 ASCII characters with a scheme")
    return value


def _time(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
        raise InvalidArgument(f"{what} must be a Unix time in whole seconds")
    return value


@dataclass(frozen=True, slots=True)
class StatusRef:
    """Where a credential's status lives: bit ``idx`` of the list named ``uri``."""

    uri: str
    idx: int

    def __post_init__(self) -> None:
        validate_uri(self.uri)
        if isinstance(self.idx, bool) or not isinstance(self.idx, int) or not (
            0 <= self.idx <= MAX_INDEX
        ):
            raise InvalidArgument("status index must be 0 to 2**32-1")


@dataclass(frozen=True, slots=True)
class HolderClaims:
    """A holder credential's (or a delegation's) signed content.

    ``repr()`` leaves out the ids and the masked name (PIPL).
    """

    credential_id: str = field(repr=False)
    issued_at: int
    expires_at: int
    device_key: bytes = field(repr=False)
    status: StatusRef
    region: Region
    insurance_type: InsuranceType
    channel: Channel
    masked_name: str = field(repr=False)
    subject_kind: SubjectKind = SubjectKind.INSURED_PERSON
    actor_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        validate_credential_id(self.credential_id)
        _time(self.issued_at, "issued_at")
        _time(self.expires_at, "expires_at")
        if self.expires_at <= self.issued_at:
            raise InvalidArgument("expires_at must be after issued_at")
        if not isinstance(self.device_key, bytes) or len(self.device_key) != PUBLIC_KEY_BYTES:
            raise InvalidArgument("device key must be 32 bytes (Ed25519)")
        if not isinstance(self.status, StatusRef):
            raise InvalidArgument("status must be a StatusRef")
        if not isinstance(self.region, Region):
            raise InvalidArgument("region must be a Region")
        for name, enum in (("insurance_type", InsuranceType), ("channel", Channel),
                           ("subject_kind", SubjectKind)):
            if not isinstance(getattr(self, name), enum):
                raise InvalidArgument(f"{name} must be a {enum.__name__}")
        validate_masked_name(self.masked_name)
        if self.actor_id is not None:
            validate_credential_id(self.actor_id)
            if self.actor_id == self.credential_id:
                raise InvalidArgument("actor must differ from the subject")

    @property
    def is_delegation(self) -> bool:
        """A family member's credential held on the holder's device."""
        return self.actor_id is not None


def cnf_map(device_key: bytes) -> dict[int, object]:
    """The ``cnf`` claim's value: a COSE_Key for the Ed25519 device key (RFC 8747 §3.2)."""
    return {COSE_KEY: {_KTY: _KTY_OKP, _CRV: _CRV_ED25519, _X: device_key}}


def encode_claims(claims: HolderClaims) -> bytes:
    """Deterministic CBOR of the claims map."""
    value: dict[int, object] = {
        SUB: claims.credential_id,
        EXP: claims.expires_at,
        IAT: claims.issued_at,
        CNF: cnf_map(claims.device_key),
        STATUS: {STATUS_LIST: {IDX: claims.status.idx, URI: claims.status.uri}},
        HOLDER: [claims.region.wire, claims.insurance_type.wire, claims.channel.wire,
                 claims.masked_name, claims.subject_kind.wire],
    }
    if claims.actor_id is not None:
        value[ACTOR] = claims.actor_id
    return cbor.dumps(value)


def _fail(detail: str) -> HolderClaimsError:
    return HolderClaimsError(detail)


def _map(value: object, keys: frozenset[object], what: str) -> dict[object, object]:
    if type(value) is not dict or value.keys() != keys or any(
        type(k) is not type(next(iter(keys))) for k in value
    ):
        raise _fail(f"{what} has the wrong keys")
    return value


def _int(value: object, what: str) -> int:
    if type(value) is not int:
        raise _fail(f"{what} must be an integer")
    return value


def decode_device_key(cnf: object) -> bytes:
    """The Ed25519 public key inside a ``cnf`` claim of exactly the shape we write."""
    outer = _map(cnf, frozenset({COSE_KEY}), "cnf")
    key = _map(outer[COSE_KEY], frozenset({_KTY, _CRV, _X}), "COSE_Key")
    if key[_KTY] != _KTY_OKP or type(key[_KTY]) is not int or (
        key[_CRV] != _CRV_ED25519 or type(key[_CRV]) is not int
    ):
        raise _fail("cnf key must be an OKP Ed25519 key")
    x = key[_X]
    if type(x) is not bytes or len(x) != PUBLIC_KEY_BYTES:
        raise _fail("cnf key must be 32 bytes")
    return x


def decode_claims(payload: bytes) -> HolderClaims:
    """Parse and validate a holder credential's claims; :class:`HolderClaimsError` if not."""
    try:
        value = cbor.loads(payload, max_depth=4)
    except CBORError as exc:
        raise _fail("claims are not strict CBOR") from exc
    if type(value) is not dict or any(type(k) is not int for k in value):
        raise _fail("claims must be a map with integer keys")
    if value.keys() != _KEYS and value.keys() != _KEYS_ACTOR:
        raise _fail("claims have the wrong keys")
    status = _map(value[STATUS], frozenset({STATUS_LIST}), "status")
    ref = _map(status[STATUS_LIST], frozenset({IDX, URI}), "status_list")
    fields = value[HOLDER]
    if type(fields) is not list or len(fields) != 5:
        raise _fail("holder fields must be an array of five")
    region, insutype, channel, name, kind = fields
    actor = value.get(ACTOR)
    try:
        region_code = _int(region, "region")
        if not 100000 <= region_code <= 999999 or region_code // 10000 not in PROVINCE_PREFIXES:
            raise _fail("region is not a known division code")
        if type(name) is not str or (actor is not None and type(actor) is not str):
            raise _fail("text fields have the wrong type")
        uri, idx = ref[URI], ref[IDX]
        if type(uri) is not str or type(idx) is not int:
            raise _fail("status reference has the wrong types")
        sub = value[SUB]
        if type(sub) is not str:
            raise _fail("sub must be text")
        return HolderClaims(
            credential_id=sub,
            issued_at=_int(value[IAT], "iat"),
            expires_at=_int(value[EXP], "exp"),
            device_key=decode_device_key(value[CNF]),
            status=StatusRef(uri, idx),
            region=Region(str(region_code)),
            insurance_type=InsuranceType.from_code(_int(insutype, "insurance type")),
            channel=Channel.from_code(_int(channel, "channel")),
            masked_name=name,
            subject_kind=SubjectKind.from_code(_int(kind, "subject kind")),
            actor_id=actor,  # type: ignore[arg-type]  # checked above: str or None
        )
    except InvalidArgument as exc:
        raise _fail(exc.detail or "invalid claim") from None
