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
    8      cnf      {1: COSE_Key}: the device key (holder/device.py), Ed25519
                    {1: 1 (OKP), -1: 6 (Ed25519), -2: x} or SM2, compressed
                    {1: 2 (EC2), -1: -65537 (sm2p256v1), -2: x, -3: sign of y}
    -65538 holder   [region, insurance type, channel, masked name, subject kind,
                     status index]
    -65539 actor    the holder's credential id (delegations only)

That is **version 2**, with the *compact status reference*: the credential's
index in its issuer's status list is the last item of the holder array, and
no list URI travels (the terminal finds the list by the credential's issuer,
which the issuer key that verified it names).  **Version 1** credentials
carried the IETF Token Status List draft's claim instead::

    65535  status   {"status_list": {"idx": index, "uri": list uri}}
    -65538 holder   [region, insurance type, channel, masked name, subject kind]

33 bytes more at a province's scale.  Version 1 is still read (a credential
lives up to 90 days on a phone that may be offline) but no longer issued;
:class:`StatusRef` with ``uri=None`` is a version-2 reference.  See
docs/holder-credentials.md#the-compact-status-reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import cbor
from ..codec.cbor import CBORError
from ..crypto.ed25519 import PUBLIC_KEY_BYTES
from ..crypto.sm2 import ALG_SM2_SM3
from ..errors import InvalidArgument, KeyMaterialError
from ..model import Channel, InsuranceType, Region, SubjectKind
from ..model.construct import construct
from ..model.credential import validate_credential_id, validate_masked_name
from ..model.region import PROVINCE_PREFIXES
from .device import DevicePublicKey

SUB = 2
EXP = 4
IAT = 6
CNF = 8
STATUS = 65535
HOLDER = -65538
ACTOR = -65539
COSE_KEY = 1
_KTY, _CRV, _X, _Y = 1, -1, -2, -3
_KTY_OKP, _CRV_ED25519 = 1, 6
_KTY_EC2, _CRV_SM2 = 2, ALG_SM2_SM3
STATUS_LIST = "status_list"
IDX = "idx"
URI = "uri"
MAX_URI_CHARS = 64
MAX_INDEX = 2**32 - 1
_KEYS = frozenset({SUB, EXP, IAT, CNF, HOLDER})
"""Version 2 (compact status reference); with ACTOR a delegation."""
_KEYS_ACTOR = _KEYS | {ACTOR}
_KEYS_V1 = _KEYS | {STATUS}
"""Version 1 (the draft's status claim); with ACTOR a delegation."""
_KEYS_V1_ACTOR = _KEYS_V1 | {ACTOR}


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
    """Where a credential's status lives: entry ``idx`` of the list named ``uri``, or,
    with ``uri=None`` (the compact reference of version-2 credentials), of the list of
    the credential's issuer."""

    uri: str | None
    idx: int

    def __post_init__(self) -> None:
        if self.uri is not None:
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
    device_key: DevicePublicKey = field(repr=False)
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
        if not isinstance(self.device_key, DevicePublicKey):
            raise InvalidArgument("device key must be a DevicePublicKey")
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


def cnf_map(device_key: DevicePublicKey) -> dict[int, object]:
    """The ``cnf`` claim's value: the device key's COSE_Key (RFC 8747 §3.2)."""
    return {COSE_KEY: device_key.cose_key()}


def encode_claims(claims: HolderClaims) -> bytes:
    """Deterministic CBOR of the claims map: version 2 (the compact status reference)
    when ``claims.status.uri`` is None, else version 1 (the draft's ``status`` claim)."""
    ref = claims.status
    fields: list[object] = [claims.region.wire, claims.insurance_type.wire,
                            claims.channel.wire, claims.masked_name, claims.subject_kind.wire]
    value: dict[int, object] = {
        SUB: claims.credential_id,
        EXP: claims.expires_at,
        IAT: claims.issued_at,
        CNF: cnf_map(claims.device_key),
        HOLDER: fields,
    }
    if ref.uri is None:
        fields.append(ref.idx)
    else:
        value[STATUS] = {STATUS_LIST: {IDX: ref.idx, URI: ref.uri}}
    if claims.actor_id is not None:
        value[ACTOR] = claims.actor_id
    return cbor.dumps(value)


def _fail(detail: str) -> HolderClaimsError:
    return HolderClaimsError(detail)


_INSURANCE = {m.wire: m for m in InsuranceType}
_CHANNELS = {m.wire: m for m in Channel}
_KINDS = {m.wire: m for m in SubjectKind}
_COSE_KEY_KEYS = frozenset({_KTY, _CRV, _X})
_EC2_KEY_KEYS = frozenset({_KTY, _CRV, _X, _Y})
_REF_KEYS = frozenset({IDX, URI})
_regions: dict[int, Region] = {}


def _region(code: object) -> Region:
    """The Region of a wire code (validated once per code, then shared)."""
    region = _regions.get(code) if type(code) is int else None
    if region is None:
        if type(code) is not int or not 100000 <= code <= 999999 or (
            code // 10000 not in PROVINCE_PREFIXES
        ):
            raise _fail("region is not a known division code")
        region = Region(str(code))
        if len(_regions) < 100_000:  # valid codes only; GB/T 2260 has about 3,300
            _regions[code] = region
    return region


def decode_device_key(cnf: object) -> DevicePublicKey:
    """The device key inside a ``cnf`` claim of exactly a shape we write (Ed25519, or SM2
    with its point compressed); the SM2 point is validated as it is decompressed."""
    if not cbor.has_int_keys(cnf) or cnf.keys() != {COSE_KEY}:
        raise _fail("cnf must hold exactly a COSE_Key")
    key = cnf[COSE_KEY]
    if type(key) is not dict or any(type(k) is not int for k in key) or (
        key.keys() != _COSE_KEY_KEYS and key.keys() != _EC2_KEY_KEYS
    ):
        raise _fail("COSE_Key has the wrong keys")
    kty, crv, x = key[_KTY], key[_CRV], key[_X]
    if type(kty) is not int or type(crv) is not int or type(x) is not bytes:
        raise _fail("cnf key must be an OKP Ed25519 or EC2 SM2 key")
    if kty == _KTY_OKP and crv == _CRV_ED25519 and _Y not in key:
        if len(x) != PUBLIC_KEY_BYTES:
            raise _fail("cnf key must be 32 bytes")
        return device_ed25519(x)
    if kty == _KTY_EC2 and crv == _CRV_SM2 and _Y in key:
        sign = key[_Y]
        if type(sign) is not bool or len(x) != 32:
            raise _fail("an SM2 cnf key is x (32 bytes) and the sign bit of y")
        try:
            return DevicePublicKey.sm2_compressed(bytes((2 + sign,)) + x)
        except KeyMaterialError:
            raise _fail("cnf key is not a point on the SM2 curve") from None
    raise _fail("cnf key must be an OKP Ed25519 or EC2 SM2 key")


def device_ed25519(raw: bytes) -> DevicePublicKey:
    """An Ed25519 cnf key as read from a signed credential: not re-validated here
    (libsodium's signature check refuses small-order and non-canonical keys)."""
    return DevicePublicKey.unchecked_ed25519(raw)


def decode_claims(payload: bytes) -> HolderClaims:
    """Parse and validate a holder credential's claims; :class:`HolderClaimsError` if not.

    Every value is checked with the model's rules (types, ranges, code
    tables, id and name syntax); the canonical layout is read by a fast
    reader that gives the strict decoder's answers (this is on the
    verifier's uncached path).
    """
    fast = _fast_claims(payload)
    if fast is not None:
        return fast
    try:
        value = cbor.loads(payload, max_depth=4)
    except CBORError as exc:
        raise _fail("claims are not strict CBOR") from exc
    if type(value) is not dict or any(type(k) is not int for k in value):
        raise _fail("claims must be a map with integer keys")
    keys = value.keys()
    fields = value.get(HOLDER)
    uri_value: object
    if keys in (_KEYS, _KEYS_ACTOR):  # version 2: the index ends the holder array
        if type(fields) is not list or len(fields) != 6:
            raise _fail("holder fields must be an array of six")
        uri_value, idx = None, fields[5]
    elif keys in (_KEYS_V1, _KEYS_V1_ACTOR):  # version 1: the draft's status claim
        status = value[STATUS]
        if type(status) is not dict or len(status) != 1 or STATUS_LIST not in status:
            raise _fail("status must hold exactly status_list")
        ref = status[STATUS_LIST]
        if type(ref) is not dict or ref.keys() != _REF_KEYS:
            raise _fail("status_list must hold idx and uri")
        uri_value, idx = ref[URI], ref[IDX]
        if type(uri_value) is not str:  # (None is version 2's "no URI", never written here)
            raise _fail("status list uri must be text")
        if type(fields) is not list or len(fields) != 5:
            raise _fail("holder fields must be an array of five")
    else:
        raise _fail("claims have the wrong keys")
    if type(idx) is not int or not 0 <= idx <= MAX_INDEX:
        raise _fail("status index out of range")
    region, insutype, channel, name, kind = fields[:5]
    sub, iat, exp, actor = value[SUB], value[IAT], value[EXP], value.get(ACTOR)
    if type(iat) is not int or type(exp) is not int or not 0 <= iat < exp < 2**40:
        raise _fail("times must be whole seconds with iat before exp")
    insurance = _INSURANCE.get(insutype) if type(insutype) is int else None
    channel_code = _CHANNELS.get(channel) if type(channel) is int else None
    kind_code = _KINDS.get(kind) if type(kind) is int else None
    if insurance is None or channel_code is None or kind_code is None:
        raise _fail("unknown code")
    try:
        uri = None if uri_value is None else validate_uri(uri_value)
        validate_credential_id(sub)
        validate_masked_name(name)
        if actor is not None:
            validate_credential_id(actor)
            if actor == sub:
                raise _fail("actor must differ from the subject")
    except InvalidArgument as exc:
        raise _fail(exc.detail or "invalid claim") from None
    try:
        return _build(sub, iat, exp, decode_device_key(value[CNF]), uri, idx, _region(region),
                      insurance, channel_code, name, kind_code, actor)
    except InvalidArgument as exc:
        raise _fail(exc.detail or "invalid claim") from None


def _build(sub: str, iat: int, exp: int, key: DevicePublicKey, uri: str | None, idx: int,  # noqa: PLR0917
           region: Region, insurance: InsuranceType, channel: Channel, name: str,
           kind: SubjectKind, actor: str | None) -> HolderClaims:
    """The frozen claims (model/construct.py: the classes' own checks, once)."""
    return construct(HolderClaims, sub, iat, exp, key, construct(StatusRef, uri, idx), region,
                     insurance, channel, name, kind, actor)


_CNF_OPENING = b"\x08\xa1\x01\xa3\x01\x01\x20\x06\x21\x58\x20"
_STATUS_OPENING = b"\x19\xff\xff\xa1\x6bstatus_list\xa2\x63idx"
_URI_KEY = b"\x63uri"
_HOLDER_OPENING = b"\x3a\x00\x01\x00\x01\x86\x1a"
"""``-65538: [`` six items (version 2), then the region's 4-byte heading."""
_HOLDER_OPENING_V1 = b"\x3a\x00\x01\x00\x01\x85\x1a"
_ACTOR_KEY = b"\x3a\x00\x01\x00\x02"


def _text(data: bytes, i: int) -> tuple[str, int]:
    """The definite text string with its shortest heading at ``i``, and where it ends."""
    h = data[i]
    if 0x60 <= h <= 0x77:
        start, end = i + 1, i + 1 + h - 0x60
    elif h == 0x78 and data[i + 1] >= 24:
        start, end = i + 2, i + 2 + data[i + 1]
    else:
        raise ValueError("not a short text")
    if end > len(data):
        raise ValueError("text runs past the end")
    return data[start:end].decode("utf-8"), end


def _index(data: bytes, i: int) -> tuple[int, int]:
    """The unsigned integer up to 2**32-1 with its shortest heading at ``i``, and where
    it ends."""
    h = data[i]
    if h <= 0x17:
        return h, i + 1
    if h == 0x18 and data[i + 1] >= 24:
        return data[i + 1], i + 2
    if h == 0x19 and data[i + 1]:
        return int.from_bytes(data[i + 1:i + 3], "big"), i + 3
    if h == 0x1A and data[i + 1] | data[i + 2]:
        return int.from_bytes(data[i + 1:i + 5], "big"), i + 5
    raise ValueError("not a short unsigned integer")


def _fast_claims(data: bytes) -> HolderClaims | None:
    """The claims if ``data`` has exactly the canonical layout :func:`encode_claims` writes
    (either version; the values the strict decoder would read, checked by the same
    rules), else None: then the strict decoder gives the answer or the error."""
    try:
        if not 0xA5 <= data[0] <= 0xA7 or data[1] != SUB:
            return None
        sub, i = _text(data, 2)
        if data[i:i + 2] != b"\x04\x1a" or data[i + 6:i + 8] != b"\x06\x1a":
            return None
        exp = int.from_bytes(data[i + 2:i + 6], "big")
        iat = int.from_bytes(data[i + 8:i + 12], "big")
        i += 12
        if data[i:i + 11] != _CNF_OPENING:
            return None
        key = data[i + 11:i + 43]
        i += 43
        uri = None
        entries, opening = 0xA5, _HOLDER_OPENING
        if data[i:i + len(_STATUS_OPENING)] == _STATUS_OPENING:  # version 1
            idx, i = _index(data, i + len(_STATUS_OPENING))
            if data[i:i + 4] != _URI_KEY:
                return None
            uri, i = _text(data, i + 4)
            entries, opening = 0xA6, _HOLDER_OPENING_V1
        if data[i:i + 7] != opening or data[i + 11] != 0x19:
            return None
        region = int.from_bytes(data[i + 7:i + 11], "big")
        insurance = _INSURANCE.get(int.from_bytes(data[i + 12:i + 14], "big"))
        channel = _CHANNELS.get(data[i + 14])
        name, i = _text(data, i + 15)
        kind = _KINDS.get(data[i])
        i += 1
        if uri is None:  # version 2: the index ends the holder array
            idx, i = _index(data, i)
        actor = None
        if data[0] == entries + 1:
            if data[i:i + 5] != _ACTOR_KEY:
                return None
            actor, i = _text(data, i + 5)
        elif data[0] != entries:
            return None
        if i != len(data) or insurance is None or channel is None or kind is None or (
            region < 0x10000 or not 0x10000 <= iat < exp or exp < 0x10000
        ):
            return None
        # The values' rules run once, in the classes' own checks (_build).
        return _build(sub, iat, exp, device_ed25519(bytes(key)), uri, idx, _region(region),
                      insurance, channel, name, kind, actor)
    except (IndexError, ValueError, HolderClaimsError, InvalidArgument):
        return None
