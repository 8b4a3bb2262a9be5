"""Key-id and region confusion: checked clean; these pin it down.

* an issuer key and a group key with the same kid are looked up in separate tables,
  so neither can stand in for the other;
* a token signed under a revoked key fails even while a verify-only key of the same
  issuer is fine;
* a province-level (省本级) scheme region such as 619900 lies inside its province
  (DOMAIN.md): an issuer bound to that province serves it, one bound to another
  province does not, and a 99 prefix is no region at all.
"""

from __future__ import annotations

import pytest

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    ErrorCode,
    FixedClock,
    GroupKey,
    InsuranceType,
    InvalidArgument,
    Issuer,
    IssuerSigningKey,
    KeyState,
    Region,
    TokenRejected,
    TrustStore,
)
from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from tests.conftest import NOW, running_verifier

REG = BusinessType.HOSPITAL_REGISTRATION
KID = b"same"


def person(region: str) -> Credential:
    return Credential("E4Q7ZK2M9PXA", Region(region), InsuranceType.RESIDENT_BASIC, "张*",
                      Channel.WECHAT, NOW - 1000)


def signing(issuer: str, seed: int, regions: frozenset[str] | None = None,
            state: KeyState = KeyState.PRIMARY, kid: bytes = KID) -> IssuerSigningKey:
    return IssuerSigningKey(issuer, kid, Ed25519PrivateKey(bytes([seed]) * 32), regions,
                            state=state)


def rejection(trust: TrustStore, token: str) -> ErrorCode:
    with pytest.raises(TokenRejected) as info:
        running_verifier(trust).verify(token, REG)
    return info.value.code


def test_a_group_kid_equal_to_an_issuer_kid_confuses_nothing() -> None:
    group = GroupKey("national", KID, bytes(16))
    key = signing("NHSA", 1)
    token = Issuer(key, group, clock=FixedClock(NOW)).mint(person("110105"), REG)
    assert running_verifier(TrustStore([key.public], [group])).verify(token, REG)
    other_group = GroupKey("other", KID, bytes([1]) * 16)  # same kid, another secret
    assert rejection(TrustStore([key.public], [other_group]), token) is (
        ErrorCode.DECRYPTION_FAILED
    )
    imposter = signing("NHSA", 2)  # same kid, another key: the signature decides
    assert rejection(TrustStore([imposter.public], [group]), token) is ErrorCode.BAD_SIGNATURE


def test_revoked_and_verify_only_keys_of_one_issuer() -> None:
    group = GroupKey("national", b"grp1", bytes(16))
    old = signing("NHSA", 3, kid=b"old1")
    token = Issuer(old, group, clock=FixedClock(NOW)).mint(person("110105"), REG)
    verify_only = signing("NHSA", 3, kid=b"old1", state=KeyState.VERIFY_ONLY).public
    revoked = signing("NHSA", 3, kid=b"old1", state=KeyState.REVOKED).public
    assert running_verifier(TrustStore([verify_only], [group])).verify(token, REG)
    assert rejection(TrustStore([revoked], [group]), token) is ErrorCode.KEY_REVOKED


@pytest.mark.parametrize(
    ("regions", "region", "accepted"),
    [
        (frozenset({"11"}), "619900", False),
        (frozenset({"61"}), "619900", True),
        (frozenset({"61"}), "110105", False),
        (frozenset({"11", "61"}), "619900", True),
        (None, "619900", True),
    ],
)
def test_province_level_scheme_regions(
    regions: frozenset[str] | None, region: str, accepted: bool
) -> None:
    group = GroupKey("national", b"grp1", bytes(16))
    nationwide = signing("NHSA", 4, kid=b"mint")  # mints anything, for the test
    bound = signing("NHSA", 4, regions, kid=b"mint").public
    token = Issuer(nationwide, group, clock=FixedClock(NOW)).mint(person(region), REG)
    trust = TrustStore([bound], [group])
    if accepted:
        assert running_verifier(trust).verify(token, REG)
    else:
        assert rejection(trust, token) is ErrorCode.WRONG_REGION


@pytest.mark.parametrize("code", ["990000", "991234", "999900"])
def test_a_99_prefix_is_no_region(code: str) -> None:
    """The old 99 "province-level" prefix is refused: such schemes use codes like 619900."""
    with pytest.raises(InvalidArgument):
        Region(code)
