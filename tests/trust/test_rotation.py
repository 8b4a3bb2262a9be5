"""Key rings end to end: rotation without downtime, revocation, windows, regions."""

from __future__ import annotations

import dataclasses

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    EcertError,
    ErrorCode,
    FixedClock,
    InvalidArgument,
    Issuer,
    KeyState,
    Region,
    TokenRejected,
    TrustStore,
    Validity,
    Verifier,
)
from ecert_token.keys.keydir import KeyDir, generate, new_group_key, new_issuer_key
from ecert_token.keys.ring import KeyRing
from ecert_token.model import TokenClaims
from tests.conftest import NOW, deterministic_random, running_verifier

REG = BusinessType.HOSPITAL_REGISTRATION


@pytest.fixture
def kd() -> KeyDir:
    return generate(issuer="BJ", group="national", regions=frozenset({"11"}),
                    random_bytes=deterministic_random(b"ring"))


def _issuer(keys: KeyDir, clock: FixedClock, seed: bytes = b"m") -> Issuer:
    return Issuer(keys.signing_key, keys.group_key, clock=clock,
                  random_bytes=deterministic_random(seed))


def _verifier(store: TrustStore, clock: FixedClock) -> Verifier:
    """A terminal whose replay memory began an hour before NOW, before any token here."""
    return running_verifier(store, clock)


def _code(verifier: Verifier, token: str) -> ErrorCode:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, REG)
    return info.value.code


def test_issuer_rotation_keeps_old_tokens_valid_until_expiry(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    old_token = _issuer(kd, clock, b"old").mint(credential, REG)
    clock.advance(20)
    rotated = kd.rotate_issuer(clock.now, deterministic_random(b"new issuer"))
    old_kid, new_kid = kd.signing_key.kid, rotated.signing_key.kid
    assert old_kid != new_kid
    old_entry = rotated.issuer_ring.get(old_kid)
    assert old_entry is not None
    assert old_entry.state is KeyState.VERIFY_ONLY
    assert old_entry.validity.not_after == clock.now

    new_token = _issuer(rotated, clock, b"new").mint(credential, REG)
    verifier = _verifier(rotated.trust_store(), clock)
    assert verifier.verify(old_token, REG).issuer_kid == old_kid
    assert verifier.verify(new_token, REG).issuer_kid == new_kid

    # The old key may no longer mint, and a token claiming a later iat fails.
    with pytest.raises(InvalidArgument):
        Issuer(old_entry, rotated.group_key)
    late = _issuer(kd, clock, b"late").mint(credential, REG, now=clock.now + 1)
    clock.advance(1)
    assert _code(verifier, late) is ErrorCode.KEY_NOT_VALID

    # Old token dies at its own expiry, the new one a little later.
    clock.now = NOW + 60 + 5  # expiry plus the default leeway
    assert _code(_verifier(rotated.trust_store(), clock), old_token) is ErrorCode.EXPIRED


def test_group_rotation_old_tokens_still_decrypt(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    old_token = _issuer(kd, clock, b"g-old").mint(credential, REG)
    clock.advance(5)
    rotated = kd.rotate_group(clock.now, deterministic_random(b"new group"))
    assert rotated.group_key.kid != kd.group_key.kid
    new_token = _issuer(rotated, clock, b"g-new").mint(credential, REG)
    verifier = _verifier(rotated.trust_store(), clock)
    assert verifier.verify(old_token, REG).group_kid == kd.group_key.kid
    assert verifier.verify(new_token, REG).group_kid == rotated.group_key.kid


def test_revoked_issuer_key_rejected_at_once(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    token = _issuer(kd, clock).mint(credential, REG)
    revoked = kd.revoke(kd.signing_key.kid)
    assert _code(_verifier(revoked.trust_store(), clock), token) is ErrorCode.KEY_REVOKED
    with pytest.raises(InvalidArgument):
        _ = revoked.signing_key  # no primary left: nothing may mint


def test_revoked_group_key_rejected_at_once(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    token = _issuer(kd, clock).mint(credential, REG)
    revoked = kd.revoke(kd.group_key.kid)
    assert _code(_verifier(revoked.trust_store(), clock), token) is ErrorCode.KEY_REVOKED


def test_expired_issuer_key_is_key_not_valid(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    token = _issuer(kd, clock).mint(credential, REG)
    ended = dataclasses.replace(kd.signing_key.public, validity=Validity(NOW - 1000, NOW - 1))
    store = TrustStore([ended], [kd.group_key])
    assert _code(_verifier(store, clock), token) is ErrorCode.KEY_NOT_VALID
    # The minter refuses too.
    expired = dataclasses.replace(kd.signing_key, validity=Validity(NOW - 1000, NOW - 1))
    with pytest.raises(EcertError) as info:
        Issuer(expired, kd.group_key, clock=clock).mint(credential, REG)
    assert info.value.code is ErrorCode.KEY_NOT_VALID


def test_expired_group_key_is_key_not_valid(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    token = _issuer(kd, clock).mint(credential, REG)
    ended = dataclasses.replace(kd.group_key, validity=Validity(None, NOW - 1))
    store = TrustStore([kd.signing_key.public], [ended])
    assert _code(_verifier(store, clock), token) is ErrorCode.KEY_NOT_VALID


def test_wrong_region_issuer(kd: KeyDir, credential: Credential, clock: FixedClock) -> None:
    xian = dataclasses.replace(credential, region=Region("610113"))
    with pytest.raises(EcertError) as info:
        _issuer(kd, clock).mint(xian, REG)
    assert info.value.code is ErrorCode.WRONG_REGION
    # A Beijing key that signs Xi'an claims anyway (a compromised or buggy
    # minter) is refused by the verifier.
    claims = TokenClaims(
        token_id=b"\x01" * 8, issued_at=NOW, expires_at=NOW + 60,
        credential_id=xian.credential_id, subject_kind=xian.subject_kind, region=xian.region,
        insurance_type=xian.insurance_type, masked_name=xian.masked_name,
        business_type=REG, channel=xian.channel,
    )
    forged = _issuer(kd, clock).mint_claims(claims)
    assert _code(_verifier(kd.trust_store(), clock), forged) is ErrorCode.WRONG_REGION


def test_cross_region_use_with_national_group_key(
    kd: KeyDir, credential: Credential, clock: FixedClock
) -> None:
    """A Beijing-insured person's code verifies at a Xi'an terminal."""
    shaanxi = new_issuer_key("SN", frozenset({"61"}), deterministic_random(b"sn"))
    xian_terminal = TrustStore([kd.signing_key.public, shaanxi.public], [kd.group_key])
    token = _issuer(kd, clock).mint(credential, REG)
    result = _verifier(xian_terminal, clock).verify(token, REG)
    assert result.claims.region == Region("110105")
    assert result.issuer == "BJ"


def test_prune_drops_only_keys_whose_tokens_are_dead(kd: KeyDir, clock: FixedClock) -> None:
    rotated = kd.rotate_issuer(NOW, deterministic_random(b"p"))
    assert len(rotated.issuer_ring.prune(NOW + 305, grace=305)) == 2
    pruned = rotated.issuer_ring.prune(NOW + 306, grace=305)
    assert [k.kid for k in pruned] == [rotated.signing_key.kid]


def test_staged_key_becomes_primary(kd: KeyDir) -> None:
    staged = new_issuer_key("BJ", frozenset({"11"}), deterministic_random(b"s"),
                            state=KeyState.VERIFY_ONLY)
    ring = kd.issuer_ring.add(staged)
    assert ring.primary.kid == kd.signing_key.kid
    ring = ring.rotate(staged, NOW)
    assert ring.primary.kid == staged.kid
    assert len(ring) == 2


def test_ring_invariants(kd: KeyDir) -> None:
    other = new_issuer_key("BJ", None, deterministic_random(b"o"))
    with pytest.raises(InvalidArgument):
        KeyRing([kd.signing_key, other])  # two primaries
    with pytest.raises(InvalidArgument):
        KeyRing([kd.signing_key, kd.signing_key])  # one kid twice
    stranger = new_issuer_key("SN", None, deterministic_random(b"x"), state=KeyState.VERIFY_ONLY)
    with pytest.raises(InvalidArgument):
        KeyRing([kd.signing_key, stranger])  # two owners
    revoked = kd.issuer_ring.revoke(kd.signing_key.kid)
    with pytest.raises(InvalidArgument):
        revoked.rotate(kd.signing_key, NOW)  # a revoked key never returns
    with pytest.raises(InvalidArgument):
        kd.issuer_ring.revoke(b"nope")
    future = new_group_key("national", deterministic_random(b"f"), Validity(NOW + 10, None))
    with pytest.raises(InvalidArgument):
        kd.group_ring.rotate(future, NOW)  # window does not contain now
