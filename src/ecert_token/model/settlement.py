"""The fields of a settlement request that a verified code gives, and its handle.

The national interface opens a visit with ``mdtrt_cert_type`` ``"01"`` (the
e-certificate) and ``mdtrt_cert_no``, a 50-character field that carries the
platform's token (``ecToken``, 40 characters today).  A QR token here is
about 280 characters, so ``mdtrt_cert_no`` carries a 40-character *handle*
instead, composed at the terminal, offline and without any key, from the
verified claims::

    handle = base32(version 0x01 | exp u32 | token id (12 bytes) | ref (8 bytes))

``ref`` is ``SHA-256(domain | credential id)[:8]``, the index under which the
platform's person registry finds the candidates.  The token id of a code
minted for settlement is ``salt (4 random bytes) | tag (8 bytes)``, where the
tag is a MAC, under a key only the issuing platform holds, over the issuer's
kid, the expiry, the salt and the credential id (see
:mod:`ecert_token.settlement.handles`).  So the platform resolves a handle
without storing any code (it recomputes the tag for the registered
credentials of that ``ref``), a forged or altered handle fails the tag, and
nobody without the platform's key can make one.

Base32 (RFC 4648, upper case, no padding) keeps the handle to ``[A-Z2-7]``:
exactly 40 characters for 25 bytes, case-insensitive in any HIS field.

A holder's presentation (``EP1:``) gives a version-2 handle of 34 characters::

    handle = base32(0x02 | exp u32 | presentation id (8 bytes) | ref (8 bytes))
    presentation id = salt (2 random bytes) | tag (6 bytes)
    tag = HMAC-SHA256(Kd, "ecert-token holder handle v1" | exp u32 | salt)[:6]

``Kd`` is the per-credential key the platform hands the phone at activation
(:meth:`ecert_token.settlement.handles.HandleKey.holder_key`); the platform
recomputes it from its issuer key, so again nothing per code is stored.  The
presentation id keeps its 8 bytes, so presentations do not grow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TypedDict

from ..errors import EcertError, ErrorCode
from .claims import TokenClaims
from .codes import BusinessType, CertType, InsuranceType
from .region import Region

HANDLE_VERSION = 1
HANDLE_CHARS = 40
"""A handle is exactly 40 characters, the size of today's ``ecToken``."""
HANDLE_TOKEN_ID_BYTES = 12
"""Token ids of codes minted for settlement: 4-byte salt + 8-byte tag."""
SALT_BYTES = 4
TAG_BYTES = 8
REF_BYTES = 8
_RAW_BYTES = 1 + 4 + HANDLE_TOKEN_ID_BYTES + REF_BYTES
HOLDER_HANDLE_VERSION = 2
HOLDER_HANDLE_CHARS = 34
"""A holder presentation's handle: 21 bytes, 34 characters of base32."""
HOLDER_ID_BYTES = 8
HOLDER_SALT_BYTES = 2
HOLDER_TAG_BYTES = 6
_HOLDER_RAW_BYTES = 1 + 4 + HOLDER_ID_BYTES + REF_BYTES
_HOLDER_TAG_DOMAIN = b"ecert-token holder handle v1"
_REF_DOMAIN = b"ecert-token settlement ref v1\x00"
_SHAPE = "a handle is 40 (34 for a holder's) characters of base32"


def credential_ref(credential_id: str) -> bytes:
    """The registry index of a credential id: 8 bytes of a domain-separated SHA-256.

    Not secret (the terminal computes it); collisions between credentials are
    harmless because the platform checks each candidate's tag.
    """
    return hashlib.sha256(_REF_DOMAIN + credential_id.encode()).digest()[:REF_BYTES]


def compose_handle(claims: TokenClaims) -> str | None:
    """The handle of a verified code, or None if its token id is not a settlement one.

    A code whose token id is not 12 bytes was not minted for settlement (the
    library's default issuer draws random 8-byte ids) and has no handle.
    """
    if len(claims.token_id) != HANDLE_TOKEN_ID_BYTES or not 0 <= claims.expires_at < 2**32:
        return None
    raw = (bytes((HANDLE_VERSION,)) + claims.expires_at.to_bytes(4, "big") + claims.token_id
           + credential_ref(claims.credential_id))
    return base64.b32encode(raw).decode("ascii")


def holder_tag(handle_key: bytes, expires_at: int, salt: bytes) -> bytes:
    """The 6-byte tag a phone puts in its presentation id (and the platform recomputes)."""
    return hmac.new(handle_key, _HOLDER_TAG_DOMAIN + expires_at.to_bytes(4, "big") + salt,
                    hashlib.sha256).digest()[:HOLDER_TAG_BYTES]


def compose_holder_handle(presentation_id: bytes, expires_at: int,
                          credential_id: str) -> str | None:
    """The 34-character handle of a verified holder presentation (None if its id is not
    8 bytes).  The terminal cannot tell whether the phone put a tag in the id (it has
    no key); a handle of a presentation minted without one fails at the platform."""
    if len(presentation_id) != HOLDER_ID_BYTES or not 0 <= expires_at < 2**32:
        return None
    raw = (bytes((HOLDER_HANDLE_VERSION,)) + expires_at.to_bytes(4, "big") + presentation_id
           + credential_ref(credential_id))
    return base64.b32encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class HandleParts:
    """A handle taken apart (nothing checked but its shape).

    ``version`` 1: a platform code's (12-byte token id: 4-byte salt, 8-byte
    tag); 2: a holder presentation's (8-byte id: 2-byte salt, 6-byte tag).
    """

    expires_at: int
    token_id: bytes
    ref: bytes
    version: int = HANDLE_VERSION

    @property
    def salt(self) -> bytes:
        n = HOLDER_SALT_BYTES if self.version == HOLDER_HANDLE_VERSION else SALT_BYTES
        return self.token_id[:n]

    @property
    def tag(self) -> bytes:
        n = HOLDER_SALT_BYTES if self.version == HOLDER_HANDLE_VERSION else SALT_BYTES
        return self.token_id[n:]


def parse_handle(handle: object) -> HandleParts:
    """Take a handle apart; HANDLE_MALFORMED unless it has the exact shape."""
    if not isinstance(handle, str) or len(handle) not in (HANDLE_CHARS, HOLDER_HANDLE_CHARS) or (
        not handle.isascii()
    ):
        raise EcertError(ErrorCode.HANDLE_MALFORMED, _SHAPE)
    try:
        text = handle.upper()
        raw = base64.b32decode(text + "=" * (-len(text) % 8), casefold=False)
        if base64.b32encode(raw).decode("ascii").rstrip("=") != text:
            raise ValueError("non-canonical trailing bits")
    except (binascii.Error, ValueError):
        raise EcertError(ErrorCode.HANDLE_MALFORMED, _SHAPE) from None
    if len(raw) == _RAW_BYTES and raw[0] == HANDLE_VERSION:
        return HandleParts(int.from_bytes(raw[1:5], "big"), raw[5:17], raw[17:])
    if len(raw) == _HOLDER_RAW_BYTES and raw[0] == HOLDER_HANDLE_VERSION:
        return HandleParts(int.from_bytes(raw[1:5], "big"), raw[5:13], raw[13:],
                           HOLDER_HANDLE_VERSION)
    raise EcertError(ErrorCode.HANDLE_MALFORMED, "unknown handle version")


class SettlementDict(TypedDict):
    """:meth:`Settlement.to_dict`: the national interface's field names."""

    mdtrt_cert_type: str
    mdtrt_cert_no: str | None
    insuplc_admdvs: str
    insutype: str
    business_type: str
    business_class: str
    ec_qr_channel: str | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a verified code gives the settlement request (national interface names).

    * ``mdtrt_cert_type``: ``"01"``, the e-certificate;
    * ``mdtrt_cert_no``: the 40-character handle the platform resolves to the
      person's ``psn_cert_type``, ``certno`` and ``psn_name`` (None for a code
      not minted for settlement);
    * ``insuplc_admdvs``: the insured region; ``insutype``: the insurance type;
    * ``business_type``: the step being settled;
    * ``ec_qr_channel``: the national ``ecQrChannel`` value, None for a local
      extension channel (never sent as national).

    ``repr()`` leaves out the handle (it stands for a person).
    """

    mdtrt_cert_no: str | None = field(repr=False)
    insuplc_admdvs: Region
    insutype: InsuranceType
    business_type: BusinessType
    ec_qr_channel: str | None
    mdtrt_cert_type: CertType = CertType.ECERT_TOKEN

    @classmethod
    def of(cls, claims: TokenClaims) -> Settlement:
        """The settlement fields of verified claims."""
        return cls(compose_handle(claims), claims.region, claims.insurance_type,
                   claims.business_type, claims.channel.national_code)

    @classmethod
    def of_presentation(cls, claims: TokenClaims, presentation_id: bytes) -> Settlement:
        """The settlement fields of a verified holder presentation (a version-2 handle)."""
        return cls(compose_holder_handle(presentation_id, claims.expires_at,
                                         claims.credential_id),
                   claims.region, claims.insurance_type, claims.business_type,
                   claims.channel.national_code)

    def to_dict(self) -> SettlementDict:
        """JSON-ready, keyed by the national interface's field names."""
        return {
            "mdtrt_cert_type": self.mdtrt_cert_type.value,
            "mdtrt_cert_no": self.mdtrt_cert_no,
            "insuplc_admdvs": self.insuplc_admdvs.code,
            "insutype": self.insutype.value,
            "business_type": self.business_type.value,
            "business_class": self.business_type.business_class.value,
            "ec_qr_channel": self.ec_qr_channel,
        }
