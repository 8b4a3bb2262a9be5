"""Key material with its binding: who owns a key, for which regions, and when.

A key never stands alone: an issuer's signing key is bound to the issuer id,
the provinces it may issue for, a validity window and a state; a verifier
group's AEAD key is bound to the group and its window.  The token names keys
by ``kid`` only; everything else comes from this binding, so a token cannot
choose its own algorithm, issuer or scope.

The cipher suite is a property of the key too: an issuer key is Ed25519
(COSE alg -8) or SM2 over SM3 (-65537) by the type of its public key, and a
group key is AES-CCM-16-64-128 (10), SM4-CCM-16-64-128 (-65539) or SM4-GCM
(-65538) by its ``alg``.  Rings, trust stores and trust lists may mix them;
the verifier takes the algorithm from the key bound to the kid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from ..crypto.aead import ALG_AES_CCM_16_64_128, AesCcmKey
from ..crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey, Ed25519PublicKey
from ..crypto.sm2 import ALG_SM2_SM3, SM2PrivateKey, SM2PublicKey
from ..crypto.sm4 import ALG_SM4_CCM_16_64_128, ALG_SM4_GCM, Sm4CcmKey, Sm4GcmKey
from ..errors import InvalidArgument
from ..model import Region
from ..model.region import PROVINCE_PREFIXES

_NAME = re.compile(r"[0-9A-Za-z_.-]{1,32}")
KID_BYTES = 4

PublicKey = Ed25519PublicKey | SM2PublicKey
PrivateKey = Ed25519PrivateKey | SM2PrivateKey
Aead = AesCcmKey | Sm4CcmKey | Sm4GcmKey
AEADS: dict[int, type[AesCcmKey] | type[Sm4CcmKey] | type[Sm4GcmKey]] = {
    ALG_AES_CCM_16_64_128: AesCcmKey,
    ALG_SM4_CCM_16_64_128: Sm4CcmKey,
    ALG_SM4_GCM: Sm4GcmKey,
}
"""A group key's COSE alg -> its AEAD class."""


def signature_alg(public_key: object) -> int:
    """The COSE alg of a public key's signatures; InvalidArgument for anything else."""
    if isinstance(public_key, Ed25519PublicKey):
        return ALG_EDDSA
    if isinstance(public_key, SM2PublicKey):
        return ALG_SM2_SM3
    raise InvalidArgument("public_key must be an Ed25519PublicKey or an SM2PublicKey")


class KeyState(StrEnum):
    """Where a key is in its life: mints, only verifies, or is refused."""

    PRIMARY = "primary"
    VERIFY_ONLY = "verify_only"
    REVOKED = "revoked"


def validate_name(value: object, what: str) -> str:
    """Issuer and group names: 1 to 32 characters of ``[0-9A-Za-z_.-]``."""
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise InvalidArgument(f"{what} must be 1 to 32 characters of [0-9A-Za-z_.-]")
    return value


def validate_kid(value: object) -> bytes:
    if not isinstance(value, bytes) or not 1 <= len(value) <= 16:
        raise InvalidArgument("kid must be 1 to 16 bytes")
    return value


def validate_regions(value: frozenset[str] | None) -> frozenset[str] | None:
    """None means nationwide; otherwise two-digit province prefixes."""
    if value is None:
        return None
    if not isinstance(value, frozenset) or not value:
        raise InvalidArgument("regions must be a non-empty frozenset or None")
    for prefix in value:
        if not (isinstance(prefix, str) and len(prefix) == 2 and prefix.isdigit()
                and int(prefix) in PROVINCE_PREFIXES):
            raise InvalidArgument("regions are two-digit province prefixes such as '11'")
    return value


@dataclass(frozen=True, slots=True)
class Validity:
    """A window in Unix seconds; None on either side means open."""

    not_before: int | None = None
    not_after: int | None = None

    def __post_init__(self) -> None:
        for t in (self.not_before, self.not_after):
            if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 0):
                raise InvalidArgument("validity bounds are Unix times")
        if (self.not_before is not None and self.not_after is not None
                and self.not_after < self.not_before):
            raise InvalidArgument("not_after is before not_before")

    def contains(self, t: int) -> bool:
        return (self.not_before is None or t >= self.not_before) and (
            self.not_after is None or t <= self.not_after
        )


ALWAYS = Validity()


@dataclass(frozen=True, slots=True)
class IssuerVerifyKey:
    """The public half of an issuer key with its binding."""

    issuer: str
    kid: bytes
    public_key: PublicKey
    regions: frozenset[str] | None = None
    validity: Validity = ALWAYS
    state: KeyState = KeyState.VERIFY_ONLY
    alg: int = field(default=ALG_EDDSA, init=False)
    """From the public key's type: -8 (EdDSA) or -65537 (SM2 over SM3)."""

    def __post_init__(self) -> None:
        validate_name(self.issuer, "issuer")
        validate_kid(self.kid)
        object.__setattr__(self, "alg", signature_alg(self.public_key))
        validate_regions(self.regions)
        if not isinstance(self.state, KeyState):
            raise InvalidArgument("state must be a KeyState")

    def allows(self, region: Region) -> bool:
        """May this issuer key issue tokens for ``region``?"""
        return self.regions is None or region.province in self.regions


@dataclass(frozen=True, slots=True)
class IssuerSigningKey:
    """An issuer's private key with its binding; ``public`` gives the verify half."""

    issuer: str
    kid: bytes
    private_key: PrivateKey
    regions: frozenset[str] | None = None
    validity: Validity = ALWAYS
    state: KeyState = KeyState.PRIMARY

    def __post_init__(self) -> None:
        validate_name(self.issuer, "issuer")
        validate_kid(self.kid)
        if not isinstance(self.private_key, Ed25519PrivateKey | SM2PrivateKey):
            raise InvalidArgument("private_key must be an Ed25519PrivateKey or an SM2PrivateKey")
        validate_regions(self.regions)

    @property
    def public(self) -> IssuerVerifyKey:
        return IssuerVerifyKey(
            self.issuer, self.kid, self.private_key.public_key, self.regions, self.validity,
            self.state,
        )

    def __repr__(self) -> str:
        return f"IssuerSigningKey(issuer={self.issuer!r}, kid={self.kid.hex()})"


@dataclass(frozen=True, slots=True, repr=False)
class GroupKey:
    """A verifier group's AEAD key: minters encrypt to it, the group's terminals decrypt.

    ``alg`` names the AEAD (:data:`AEADS`): AES-CCM-16-64-128 unless given.
    """

    group: str
    kid: bytes
    secret: bytes
    validity: Validity = ALWAYS
    state: KeyState = KeyState.PRIMARY
    alg: int = ALG_AES_CCM_16_64_128
    aead: Aead = field(init=False, compare=False)

    def __post_init__(self) -> None:
        validate_name(self.group, "group")
        validate_kid(self.kid)
        aead = AEADS.get(self.alg) if type(self.alg) is int else None
        if aead is None:
            raise InvalidArgument("a group key's alg is AES-CCM-16-64-128, SM4-CCM or SM4-GCM")
        object.__setattr__(self, "aead", aead(self.secret))
        if not isinstance(self.state, KeyState):
            raise InvalidArgument("state must be a KeyState")

    def __repr__(self) -> str:
        return f"GroupKey(group={self.group!r}, kid={self.kid.hex()})"
