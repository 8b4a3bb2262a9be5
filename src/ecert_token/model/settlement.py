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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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
_REF_DOMAIN = b"ecert-token settlement ref v1\x00"
_SHAPE = "a handle is 40 characters of base32"


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


@dataclass(frozen=True, slots=True)
class HandleParts:
    """A handle taken apart (nothing checked but its shape)."""

    expires_at: int
    token_id: bytes
    ref: bytes

    @property
    def salt(self) -> bytes:
        return self.token_id[:SALT_BYTES]

    @property
    def tag(self) -> bytes:
        return self.token_id[SALT_BYTES:]


def parse_handle(handle: object) -> HandleParts:
    """Take a handle apart; HANDLE_MALFORMED unless it has the exact shape."""
    if not isinstance(handle, str) or len(handle) != HANDLE_CHARS or not handle.isascii():
        raise EcertError(ErrorCode.HANDLE_MALFORMED, _SHAPE)
    try:
        raw = base64.b32decode(handle.upper(), casefold=False)
    except (binascii.Error, ValueError):
        raise EcertError(ErrorCode.HANDLE_MALFORMED, _SHAPE) from None
    if len(raw) != _RAW_BYTES or raw[0] != HANDLE_VERSION:
        raise EcertError(ErrorCode.HANDLE_MALFORMED, "unknown handle version")
    return HandleParts(int.from_bytes(raw[1:5], "big"), raw[5:17], raw[17:])


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
