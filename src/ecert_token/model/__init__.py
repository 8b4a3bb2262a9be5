"""The data model: code tables, regions, credentials, family accounts, token claims."""

from .claims import TokenClaims
from .codes import (
    BusinessClass,
    BusinessType,
    CertType,
    Channel,
    CredentialStatus,
    InsuranceType,
    PsnCertType,
    SubjectKind,
)
from .credential import MAX_FAMILY_MEMBERS, Credential, FamilyAccount, mask_name
from .region import Region

__all__ = [
    "MAX_FAMILY_MEMBERS",
    "BusinessClass",
    "BusinessType",
    "CertType",
    "Channel",
    "Credential",
    "CredentialStatus",
    "FamilyAccount",
    "InsuranceType",
    "PsnCertType",
    "Region",
    "SubjectKind",
    "TokenClaims",
    "mask_name",
]
