"""The claims one token carries: who, where, for what, and when."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .codes import BusinessType, Channel, InsuranceType, SubjectKind
from .credential import validate_credential_id, validate_masked_name
from .region import Region

MIN_TOKEN_ID_BYTES = 8
MAX_TOKEN_ID_BYTES = 16


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The signed content of one token (CWT claims, see docs/wire-format.md).

    ``credential_id`` is the subject (for a family member's code, the member);
    ``actor_id`` is the holder who presents a family member's code, else None.
    The issuer is not a claim: it is bound to the signing key.  ``repr()`` leaves
    out the credential ids and the masked name (personal data, PIPL), so a
    logged or reported repr carries none.
    """

    token_id: bytes
    issued_at: int
    expires_at: int
    credential_id: str = field(repr=False)
    subject_kind: SubjectKind
    region: Region
    insurance_type: InsuranceType
    masked_name: str = field(repr=False)
    business_type: BusinessType
    channel: Channel
    actor_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.token_id, bytes) or not (
            MIN_TOKEN_ID_BYTES <= len(self.token_id) <= MAX_TOKEN_ID_BYTES
        ):
            raise InvalidArgument("token id must be 8 to 16 bytes")
        for name in ("issued_at", "expires_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
                raise InvalidArgument(f"{name} must be a Unix time in whole seconds")
        if self.expires_at <= self.issued_at:
            raise InvalidArgument("expires_at must be after issued_at")
        validate_credential_id(self.credential_id)
        validate_masked_name(self.masked_name)
        if not isinstance(self.region, Region):
            raise InvalidArgument("region must be a Region")
        for name, enum in (
            ("subject_kind", SubjectKind),
            ("insurance_type", InsuranceType),
            ("business_type", BusinessType),
            ("channel", Channel),
        ):
            if not isinstance(getattr(self, name), enum):
                raise InvalidArgument(f"{name} must be a {enum.__name__}")
        if self.actor_id is not None:
            validate_credential_id(self.actor_id)
            if self.actor_id == self.credential_id:
                raise InvalidArgument("actor must differ from the subject")

    @property
    def lifetime(self) -> int:
        """Seconds from issue to expiry."""
        return self.expires_at - self.issued_at
