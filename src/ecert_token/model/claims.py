"""The claims one token carries: who, where, for what, and when."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .codes import BusinessType, Channel, InsuranceType, SubjectKind
from .credential import validate_credential_id, validate_masked_name
from .limits import MAX_TOKEN_ID_BYTES, MAX_UNIX_TIME, MIN_TOKEN_ID_BYTES
from .region import Region

__all__ = ["MAX_TOKEN_ID_BYTES", "MIN_TOKEN_ID_BYTES", "TokenClaims"]


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
        # Every verified token is built through here, so the common case (exact
        # types, every number in range) is one chained test; anything else runs
        # every check in order, for the first failure's message.  The text
        # fields always go through their validators.
        token_id = self.token_id
        issued_at = self.issued_at
        expires_at = self.expires_at
        if not (type(token_id) is bytes
                and MIN_TOKEN_ID_BYTES <= len(token_id) <= MAX_TOKEN_ID_BYTES
                and type(issued_at) is int and type(expires_at) is int
                and 0 <= issued_at < expires_at < MAX_UNIX_TIME
                and type(self.region) is Region and type(self.subject_kind) is SubjectKind
                and type(self.insurance_type) is InsuranceType
                and type(self.business_type) is BusinessType and type(self.channel) is Channel):
            _check_in_order(self)
        validate_credential_id(self.credential_id)
        validate_masked_name(self.masked_name)
        actor_id = self.actor_id
        if actor_id is not None:
            validate_credential_id(actor_id)
            if actor_id == self.credential_id:
                raise InvalidArgument("actor must differ from the subject")

    @property
    def lifetime(self) -> int:
        """Seconds from issue to expiry."""
        return self.expires_at - self.issued_at


def _check_in_order(claims: TokenClaims) -> None:
    """Every field check of :class:`TokenClaims`, in order: raises the first failure
    (``isinstance`` semantics: subclasses of the declared types pass)."""
    token_id = claims.token_id
    if not isinstance(token_id, bytes) or not (
        MIN_TOKEN_ID_BYTES <= len(token_id) <= MAX_TOKEN_ID_BYTES
    ):
        raise InvalidArgument("token id must be 8 to 16 bytes")
    issued_at = claims.issued_at
    expires_at = claims.expires_at
    if type(issued_at) is not int or not 0 <= issued_at < MAX_UNIX_TIME:
        _check_time(issued_at, "issued_at")
    if type(expires_at) is not int or not 0 <= expires_at < MAX_UNIX_TIME:
        _check_time(expires_at, "expires_at")
    if expires_at <= issued_at:
        raise InvalidArgument("expires_at must be after issued_at")
    validate_credential_id(claims.credential_id)
    validate_masked_name(claims.masked_name)
    if not isinstance(claims.region, Region):
        raise InvalidArgument("region must be a Region")
    if not isinstance(claims.subject_kind, SubjectKind):
        raise InvalidArgument("subject_kind must be a SubjectKind")
    if not isinstance(claims.insurance_type, InsuranceType):
        raise InvalidArgument("insurance_type must be a InsuranceType")
    if not isinstance(claims.business_type, BusinessType):
        raise InvalidArgument("business_type must be a BusinessType")
    if not isinstance(claims.channel, Channel):
        raise InvalidArgument("channel must be a Channel")


def _check_time(value: object, name: str) -> None:
    """An int subclass (not bool) in range passes, as ``isinstance`` allows; else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_UNIX_TIME:
        raise InvalidArgument(f"{name} must be a Unix time in whole seconds")
