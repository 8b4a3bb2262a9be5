"""The status list: one or two bits per credential, issuer-signed, in the IETF draft's CWT form.

Layout of draft-ietf-oauth-status-list ("Token Status List"), CWT form::

    COSE_Sign1 [tag 18]
      protected   {1: alg, 4: issuer kid, 16 (typ): "application/statuslist+cwt"}
                  (alg: the issuer key's, -8 EdDSA or -65537 SM2-SM3)
      unprotected {}
      payload     {2 (sub): list uri, 6 (iat), 4 (exp), 65534 (ttl): seconds,
                   65533 (status_list): {"bits": 1 or 2, "lst": zlib(DEFLATE) bytes}}

Credential ``i``'s status is ``bits`` bits at byte ``i * bits // 8``, starting
at bit ``i * bits % 8`` counted from the least significant bit: 0 valid, 1
invalid (revoked: unbound, replaced by a new phone), 2 suspended.  A lookup
is one shift and mask: O(1).

Purpose separation: the ``typ`` header makes the protected header differ from
a token's or a credential's (which hold exactly ``{1, 4}``), so none of them
can be read as another, and this parser requires the ``typ``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from ..codec import cbor, cose
from ..codec.cbor import CBORError
from ..crypto.ed25519 import ALG_EDDSA, SIGNATURE_BYTES
from ..crypto.sm2 import ALG_SM2_SM3
from ..errors import ErrorCode, InvalidArgument, TrustListError
from ..keys.material import IssuerSigningKey, IssuerVerifyKey, KeyState
from ..keys.trust_store import TrustStore
from ..model.limits import MAX_KID_BYTES
from .claims import validate_uri

TYP = 16
CONTENT_TYPE = "application/statuslist+cwt"
SUB, EXP, IAT, TTL, STATUS_LIST = 2, 4, 6, 65534, 65533
BITS, LST = "bits", "lst"
VALID, INVALID, SUSPENDED = 0, 1, 2
MAX_LIST_BYTES = 64 << 20
"""Largest signed list accepted (compressed)."""
MAX_STATUS_BYTES = 256 << 20
"""Largest decompressed bit array accepted: 10^9 credentials at 2 bits."""
_PAYLOAD_KEYS = frozenset({SUB, EXP, IAT, TTL, STATUS_LIST})


class StatusListError(TrustListError):
    """A status list that cannot be accepted (structure, signer, signature)."""


def _invalid(detail: str) -> StatusListError:
    return StatusListError(ErrorCode.STATUS_LIST_INVALID, detail)


@dataclass(frozen=True, slots=True)
class StatusList:
    """The decoded list: ``data`` holds ``bits`` bits per credential (uncompressed)."""

    uri: str
    issued_at: int
    expires_at: int
    ttl: int
    bits: int
    data: bytes = field(repr=False)
    issuer: str = ""

    def __post_init__(self) -> None:
        validate_uri(self.uri)
        if self.bits not in (1, 2):
            raise InvalidArgument("a status list has 1 or 2 bits per credential")
        for t in (self.issued_at, self.expires_at, self.ttl):
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < 2**40:
                raise InvalidArgument("times are whole seconds")
        if self.expires_at <= self.issued_at:
            raise InvalidArgument("expires_at must be after issued_at")

    @property
    def size(self) -> int:
        """How many credentials the list covers."""
        return len(self.data) * 8 // self.bits

    def status(self, idx: int) -> int | None:
        """The status of credential ``idx``; None if the list does not cover it."""
        bits = self.bits
        byte, shift = divmod(idx * bits, 8)
        if not 0 <= byte < len(self.data):
            return None
        return (self.data[byte] >> shift) & ((1 << bits) - 1)


def pack(statuses: dict[int, int], size: int, bits: int = 1) -> bytes:
    """A bit array of ``size`` credentials, all valid except those in ``statuses``."""
    if bits not in (1, 2):
        raise InvalidArgument("a status list has 1 or 2 bits per credential")
    out = bytearray(-(-size * bits // 8))
    for idx, value in statuses.items():
        if not 0 <= idx < size or not 0 <= value < (1 << bits):
            raise InvalidArgument("status index or value out of range")
        byte, shift = divmod(idx * bits, 8)
        out[byte] |= value << shift
    return bytes(out)


_ALGS = frozenset({ALG_EDDSA, ALG_SM2_SM3})


def _protected(kid: bytes, alg: int = ALG_EDDSA) -> bytes:
    """The protected header: the signing key's alg (EdDSA or SM2-SM3), its kid, the typ."""
    return cbor.dumps({1: alg, 4: kid, TYP: CONTENT_TYPE})


def sign_status_list(sl: StatusList, key: IssuerSigningKey, level: int = 9) -> bytes:
    """The signed, tagged COSE_Sign1 of ``sl`` (``lst`` compressed with zlib at ``level``)."""
    if not isinstance(key, IssuerSigningKey) or key.state is KeyState.REVOKED:
        raise InvalidArgument("status lists are signed with a live IssuerSigningKey")
    payload = cbor.dumps({
        SUB: sl.uri, IAT: sl.issued_at, EXP: sl.expires_at, TTL: sl.ttl,
        STATUS_LIST: {BITS: sl.bits, LST: zlib.compress(sl.data, level)},
    })
    protected = _protected(key.kid, key.public.alg)
    signature = key.private_key.sign(cose.sig_structure(protected, payload))
    return b"\xd2" + cbor.dumps([protected, {}, payload, signature])


def _split(data: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """``(protected, kid, payload, signature)`` of a status list envelope."""
    if not isinstance(data, bytes) or len(data) > MAX_LIST_BYTES:
        raise _invalid("not a status list of an acceptable size")
    try:
        protected, payload, signature = cose.sign1_envelope(data)
    except cose.COSEError as exc:
        raise _invalid(str(exc)) from None
    try:
        header = cbor.loads(protected, max_depth=1)
    except CBORError:
        raise _invalid("protected header is not strict CBOR") from None
    if type(header) is not dict or header.keys() != {1, 4, TYP} or any(
        type(k) is not int for k in header
    ):
        raise _invalid("protected header must hold alg, kid and typ")
    kid = header[4]
    alg = header[1]
    if type(alg) is not int or alg not in _ALGS or header[TYP] != CONTENT_TYPE or (
        type(kid) is not bytes or not 1 <= len(kid) <= MAX_KID_BYTES
    ):
        raise _invalid("not an EdDSA or SM2 status list")
    if protected != _protected(kid, alg):
        raise _invalid("protected header is not deterministically encoded")
    return protected, kid, payload, signature


def _decompress(lst: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(lst, MAX_STATUS_BYTES)
    except zlib.error:
        raise _invalid("lst is not zlib data") from None
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise _invalid("lst is too large or not one complete zlib stream")
    return out


def decode_payload(payload: bytes, issuer: str = "") -> StatusList:
    try:
        value = cbor.loads(payload, max_depth=2)
    except CBORError:
        raise _invalid("payload is not strict CBOR") from None
    if type(value) is not dict or value.keys() != _PAYLOAD_KEYS or any(
        type(k) is not int for k in value
    ):
        raise _invalid("payload has the wrong claims")
    inner = value[STATUS_LIST]
    if type(inner) is not dict or inner.keys() != {BITS, LST}:
        raise _invalid("status_list must hold bits and lst")
    bits, lst = inner[BITS], inner[LST]
    if type(bits) is not int or type(lst) is not bytes:
        raise _invalid("bits and lst have the wrong types")
    uri, iat, exp, ttl = value[SUB], value[IAT], value[EXP], value[TTL]
    if type(uri) is not str or type(iat) is not int or type(exp) is not int or (
        type(ttl) is not int
    ):
        raise _invalid("claims have the wrong types")
    try:
        return StatusList(uri, iat, exp, ttl, bits, _decompress(lst), issuer)
    except InvalidArgument as exc:
        raise _invalid(exc.detail or "invalid claim") from None


def verify_status_list(data: bytes, trust: TrustStore) -> tuple[StatusList, IssuerVerifyKey]:
    """Verify the issuer's signature (key found by kid in ``trust``) and decode the list.

    Expiry and staleness are the loader's checks (:mod:`.status_loader`).
    """
    protected, kid, payload, signature = _split(data)
    key = trust.issuer_key(kid)
    if key is None:
        raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "signed by an unknown key")
    if protected != _protected(kid, key.alg):  # the key's algorithm, never the list's
        raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "algorithm does not match the key")
    if key.state is KeyState.REVOKED:
        raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "signed by a revoked key")
    if len(signature) != SIGNATURE_BYTES or not key.public_key.verify(
        signature, cose.sig_structure(protected, payload)
    ):
        raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "bad signature")
    sl = decode_payload(payload, key.issuer)
    if not key.validity.contains(sl.issued_at):
        raise StatusListError(ErrorCode.STATUS_LIST_INVALID, "issued outside the key's window")
    return sl, key


def read_unverified(data: bytes) -> StatusList:
    """The content WITHOUT checking the signature (for inspection and benchmarks)."""
    return decode_payload(_split(data)[2])
