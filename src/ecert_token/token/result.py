"""What a successful verification returns: the fields a counter needs next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from ..model import BusinessClass, CertType, TokenClaims
from ..model.settlement import Settlement, SettlementDict

__all__ = ["ClaimsFieldsDict", "VerifiedToken", "VerifiedTokenDict", "claims_fields"]


class ClaimsFieldsDict(TypedDict):
    """The claims' fields of :meth:`VerifiedToken.to_dict` (``ecert inspect`` shows them
    too), codes in their wire form."""

    cert_type: str
    credential_id: str
    actor_id: str | None
    subject_kind: str
    insured_region: str
    insurance_type: str
    masked_name: str
    business_type: str
    business_class: str
    channel: str
    issued_at: int
    expires_at: int
    token_id: str


class VerifiedTokenDict(ClaimsFieldsDict):
    """:meth:`VerifiedToken.to_dict`: the claims' fields, where the trust came from, and
    the settlement request's fields."""

    issuer: str
    issuer_kid: str
    group_kid: str
    settlement: SettlementDict


def claims_fields(claims: TokenClaims, cert_type: CertType) -> ClaimsFieldsDict:
    """JSON-ready fields of ``claims``, with codes in their wire form."""
    c = claims
    return {
        "cert_type": cert_type.value,
        "credential_id": c.credential_id,
        "actor_id": c.actor_id,
        "subject_kind": c.subject_kind.value,
        "insured_region": c.region.code,
        "insurance_type": c.insurance_type.value,
        "masked_name": c.masked_name,
        "business_type": c.business_type.value,
        "business_class": c.business_type.business_class.value,
        "channel": c.channel.value,
        "issued_at": c.issued_at,
        "expires_at": c.expires_at,
        "token_id": c.token_id.hex(),
    }


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check, with where its trust came from.

    ``cert_type`` is what the counter reports as ``mdtrt_cert_type`` (01, the
    e-certificate token).  ``subject`` is whose insurance is used; ``actor``
    is the family-account holder who presented it, if any.
    """

    claims: TokenClaims
    issuer: str
    issuer_kid: bytes
    group_kid: bytes
    cert_type: CertType = CertType.ECERT_TOKEN

    @property
    def subject(self) -> str:
        return self.claims.credential_id

    @property
    def actor(self) -> str | None:
        return self.claims.actor_id

    @property
    def business_class(self) -> BusinessClass:
        return self.claims.business_type.business_class

    @property
    def settlement(self) -> Settlement:
        """The settlement request's fields (``mdtrt_cert_no`` is the 40-character handle)."""
        return Settlement.of(self.claims)

    def to_dict(self) -> VerifiedTokenDict:
        """JSON-ready fields, with codes in their wire form."""
        return {
            **claims_fields(self.claims, self.cert_type),
            "issuer": self.issuer,
            "issuer_kid": self.issuer_kid.hex(),
            "group_kid": self.group_kid.hex(),
            "settlement": self.settlement.to_dict(),
        }
