"""ecert-token: the dynamic QR code of China's medical-insurance electronic certificate.

Mint with :class:`Issuer`, verify with :class:`Verifier`; every failure is an
:class:`EcertError` with a stable :class:`ErrorCode`.
"""

from .clock import FixedClock, system_clock
from .errors import (
    EcertError,
    ErrorCode,
    InvalidArgument,
    KeyMaterialError,
    StoreUnavailable,
    TokenRejected,
    TrustListError,
)
from .keys import (
    GroupKey,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyRing,
    KeyState,
    TrustStore,
    Validity,
)
from .model import (
    BusinessClass,
    BusinessType,
    CertType,
    Channel,
    Credential,
    CredentialStatus,
    FamilyAccount,
    InsuranceType,
    PsnCertType,
    Region,
    SubjectKind,
    TokenClaims,
    mask_name,
)
from .replay import MarkResult, MemoryReplayStore, ReplayEntry, ReplayStore
from .token import Issuer, VerifiedToken, Verifier, VerifyPolicy
from .trust import Staleness, TrustListLoader, TrustRoot

__version__ = "0.1.0"

__all__ = [
    "BusinessClass",
    "BusinessType",
    "CertType",
    "Channel",
    "Credential",
    "CredentialStatus",
    "EcertError",
    "ErrorCode",
    "FamilyAccount",
    "FixedClock",
    "GroupKey",
    "InsuranceType",
    "InvalidArgument",
    "Issuer",
    "IssuerSigningKey",
    "IssuerVerifyKey",
    "KeyMaterialError",
    "KeyRing",
    "KeyState",
    "MarkResult",
    "MemoryReplayStore",
    "PsnCertType",
    "Region",
    "ReplayEntry",
    "ReplayStore",
    "Staleness",
    "StoreUnavailable",
    "SubjectKind",
    "TokenClaims",
    "TokenRejected",
    "TrustListError",
    "TrustListLoader",
    "TrustRoot",
    "TrustStore",
    "Validity",
    "VerifiedToken",
    "Verifier",
    "VerifyPolicy",
    "__version__",
    "mask_name",
    "system_clock",
]
