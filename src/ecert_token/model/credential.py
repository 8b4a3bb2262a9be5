"""The credential record and family accounts.

A credential is what the issuing platform holds for one insured party.  Only
its pseudonymous id and non-identifying attributes ever reach a token: the ID
number and the full name stay on the platform (PIPL), the token carries a
masked display name such as ``张*三``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .codes import Channel, CredentialStatus, InsuranceType, SubjectKind
from .limits import (
    MAX_CREDENTIAL_ID_CHARS,
    MAX_MASKED_NAME_CHARS,
    MAX_UNIX_TIME,
    MIN_CREDENTIAL_ID_CHARS,
)
from .region import Region

MAX_FAMILY_MEMBERS = 5
"""A holder may bind at most five family members (DOMAIN.md)."""

_CREDENTIAL_ID = re.compile(
    rf"[0-9A-Za-z_-]{{{MIN_CREDENTIAL_ID_CHARS},{MAX_CREDENTIAL_ID_CHARS}}}")


def validate_credential_id(value: object) -> str:
    """A pseudonymous credential id: 6 to 32 characters of ``[0-9A-Za-z_-]``."""
    # Most ids are ASCII letters and digits: isalnum() answers those without the regex.
    if type(value) is str and MIN_CREDENTIAL_ID_CHARS <= len(value) <= MAX_CREDENTIAL_ID_CHARS \
            and value.isascii() and value.isalnum():
        return value
    if not isinstance(value, str) or _CREDENTIAL_ID.fullmatch(value) is None:
        raise InvalidArgument("credential id must be 6 to 32 characters of [0-9A-Za-z_-]")
    return value


def mask_name(full_name: str) -> str:
    """Mask a display name the usual way: ``张三丰`` -> ``张*丰``, ``李四`` -> ``李*``.

    Names of three or more characters keep their first and last character
    around a single ``*`` (which also hides the length); shorter names keep the
    first character only.  A Latin-script name (a foreigner's, as on a
    passport) keeps the initials of its first and last word instead:
    ``John Smith`` -> ``J* S*``, ``María O'Neil-Díaz`` -> ``M* O*``, ``Ahmad`` ->
    ``A*``; the last letter of a Latin surname says little, its initial is
    what a counter calls out.
    """
    if not isinstance(full_name, str):
        raise InvalidArgument("name must be text")
    name = full_name.strip()
    if not name:
        raise InvalidArgument("name is empty")
    if _is_latin(name):
        words = name.split()
        if len(words) == 1:
            return f"{words[0][0]}*"
        return f"{words[0][0]}* {words[-1][0]}*"
    if len(name) >= 3:
        return f"{name[0]}*{name[-1]}"
    return f"{name[0]}*"


def _is_latin(name: str) -> bool:
    """Letters of the Latin script only, with spaces, hyphens, apostrophes and dots."""
    return name[0].isalpha() and all(
        c in " -'." or (c.isalpha() and unicodedata.name(c, "").startswith("LATIN "))
        for c in name
    )


def validate_masked_name(value: object) -> str:
    """A masked name shows at most two characters and contains at least one ``*``."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_MASKED_NAME_CHARS:
        raise InvalidArgument("masked name must be 1 to 16 characters")
    if "*" not in value:
        raise InvalidArgument("masked name must be masked with '*'")
    visible = len(value) - value.count("*")
    if " " in value:  # (count(" ") costs more than the test on a non-ASCII name)
        visible -= value.count(" ")
    if visible > 2:
        raise InvalidArgument("masked name may show at most two characters")
    # (Four digits in a row would be four visible characters: refused above.)
    if not value.isprintable():
        raise InvalidArgument("masked name has characters that are not allowed")
    return value


def _validate_time(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_UNIX_TIME:
        raise InvalidArgument(f"{what} must be a Unix time in whole seconds")
    return value


@dataclass(frozen=True, slots=True)
class Credential:
    """One insured party's electronic certificate as the platform holds it.

    ``repr()`` leaves out the credential id and the masked name (PIPL).
    """

    credential_id: str = field(repr=False)
    region: Region
    insurance_type: InsuranceType
    masked_name: str = field(repr=False)
    channel: Channel
    issued_at: int
    subject_kind: SubjectKind = SubjectKind.INSURED_PERSON
    status: CredentialStatus = CredentialStatus.ACTIVE
    activated_at: int | None = None

    def __post_init__(self) -> None:
        validate_credential_id(self.credential_id)
        if not isinstance(self.region, Region):
            raise InvalidArgument("region must be a Region")
        for name, enum in (
            ("insurance_type", InsuranceType),
            ("channel", Channel),
            ("subject_kind", SubjectKind),
            ("status", CredentialStatus),
        ):
            if not isinstance(getattr(self, name), enum):
                raise InvalidArgument(f"{name} must be a {enum.__name__}")
        validate_masked_name(self.masked_name)
        _validate_time(self.issued_at, "issued_at")
        if self.activated_at is not None:
            _validate_time(self.activated_at, "activated_at")
            if self.activated_at < self.issued_at:
                raise InvalidArgument("activated_at is before issued_at")

    @property
    def usable(self) -> bool:
        """Only an active credential may be presented; an unbound one never again."""
        return self.status is CredentialStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class FamilyAccount:
    """A holder and up to five bound family members whose codes the holder may show.

    A member's token names the member as subject and the holder as actor, so
    the counter sees whose insurance pays and who presented the code.
    """

    holder: Credential
    members: tuple[Credential, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.holder, Credential):
            raise InvalidArgument("holder must be a Credential")
        if not isinstance(self.members, tuple) or not all(
            isinstance(m, Credential) for m in self.members
        ):
            raise InvalidArgument("members must be a tuple of Credential")
        if self.holder.subject_kind is not SubjectKind.INSURED_PERSON:
            raise InvalidArgument("only an insured person can hold a family account")
        if len(self.members) > MAX_FAMILY_MEMBERS:
            raise InvalidArgument("a family account binds at most 5 members")
        ids = [m.credential_id for m in self.members]
        if len(set(ids)) != len(ids) or self.holder.credential_id in ids:
            raise InvalidArgument("family members must be distinct from each other and the holder")
        if any(m.subject_kind is not SubjectKind.INSURED_PERSON for m in self.members):
            raise InvalidArgument("family members must be insured persons")

    def bind(self, member: Credential) -> FamilyAccount:
        """A new account with ``member`` bound; the sixth member is refused."""
        return FamilyAccount(self.holder, (*self.members, member))

    def unbind(self, credential_id: str) -> FamilyAccount:
        """A new account without the member of that id."""
        if credential_id not in [m.credential_id for m in self.members]:  # any value, no hashing
            raise InvalidArgument("no such family member")
        return FamilyAccount(
            self.holder, tuple(m for m in self.members if m.credential_id != credential_id)
        )

    def member(self, credential_id: str) -> Credential:
        """The bound member of that id."""
        for m in self.members:
            if m.credential_id == credential_id:
                return m
        raise InvalidArgument("no such family member")
