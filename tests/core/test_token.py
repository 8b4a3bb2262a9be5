"""Minting and verification end to end: claims, family codes, time, keys, policy, replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping

import pytest

from ecert_token import (
    BusinessClass,
    BusinessType,
    CertType,
    Channel,
    Credential,
    CredentialStatus,
    EcertError,
    ErrorCode,
    FamilyAccount,
    FixedClock,
    GroupKey,
    InsuranceType,
    InvalidArgument,
    Issuer,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyState,
    Region,
    SubjectKind,
    TokenClaims,
    TrustStore,
    Validity,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec.cose import decode_sign1
from ecert_token.codec.cwt import decode_claims
from ecert_token.crypto.ed25519 import Ed25519PrivateKey
from ecert_token.keys.keydir import KeyDir, generate
from ecert_token.token.policy import business_type_accepts
from ecert_token.token.text import MAX_TEXT_CHARS, PREFIX
from tests.conftest import NOW, deterministic_random, running_verifier
from tests.core.forge import seal, sign1, unseal

pytestmark = pytest.mark.usefixtures("impl")  # both implementations (tests/conftest.py)

REGISTRATION = BusinessType.HOSPITAL_REGISTRATION
SETTLEMENT = BusinessType.HOSPITAL_SETTLEMENT

SECRETS: list[str] = []
"""Personal data and token texts that no error message may contain."""


@pytest.fixture(autouse=True)
def _secrets(credential: Credential, family: FamilyAccount) -> Iterator[None]:
    SECRETS.clear()
    for cred in (credential, *family.members):
        SECRETS.extend((cred.credential_id, cred.masked_name))
    yield
    SECRETS.clear()


def rejected(code: ErrorCode, call: Callable[[], object], *tokens: str | bytes) -> EcertError:
    """Run ``call``; it must fail with ``code`` and a message free of personal data.

    The message must not contain any of the tokens involved (or a 12-character
    piece of one), any credential id, or any masked name.
    """
    with pytest.raises(EcertError) as info:
        call()
    err = info.value
    assert err.code is code, (err.code, str(err))
    text = str(err) + repr(err) + str(err.to_dict())
    for secret in SECRETS:
        assert secret not in text
    for token in tokens:
        body = token.decode("ascii", "replace") if isinstance(token, bytes) else token
        body = body.removeprefix(PREFIX)
        for i in range(0, max(len(body) - 12, 0) + 1, 6):
            assert body[i : i + 12] not in text
    assert err.to_dict() == {"error": code.value, "message": str(err)}
    return err


def verifier_for(keys: KeyDir, clock: FixedClock, **policy: object) -> Verifier:
    """A verifier at ``clock`` whose replay memory began an hour before NOW (a running
    terminal), so restart fencing does not turn away the tokens these tests mint."""
    return running_verifier(keys.trust_store(), clock, **policy)


def issuer_for(signing: IssuerSigningKey, group: GroupKey, clock: FixedClock,
               seed: bytes = b"mint") -> Issuer:
    return Issuer(signing, group, clock=clock, random_bytes=deterministic_random(seed))


# --- round trips ------------------------------------------------------------


def test_mint_verify_round_trip(
    token: str, verifier: Verifier, credential: Credential, keys: KeyDir
) -> None:
    assert token.startswith("EC1:")
    assert len(token) <= 280
    result = verifier.verify(token, REGISTRATION)
    assert isinstance(result, VerifiedToken)
    claims = result.claims
    assert claims.credential_id == credential.credential_id
    assert claims.region == credential.region
    assert claims.insurance_type is credential.insurance_type
    assert claims.masked_name == credential.masked_name
    assert claims.channel is credential.channel
    assert claims.subject_kind is credential.subject_kind
    assert claims.business_type is REGISTRATION
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + 60
    assert len(claims.token_id) == 8
    assert claims.actor_id is None
    assert result.subject == credential.credential_id
    assert result.actor is None
    assert result.issuer == "NHSA"
    assert result.issuer_kid == keys.signing_key.kid
    assert result.group_kid == keys.group_key.kid
    assert result.cert_type is CertType.ECERT_TOKEN
    assert result.business_class is BusinessClass.IDENTITY
    as_dict = result.to_dict()
    assert as_dict["cert_type"] == "01"
    assert as_dict["insured_region"] == "110105"
    assert as_dict["business_type"] == "01101"
    assert as_dict["business_class"] == "identity"
    assert as_dict["insurance_type"] == "310"
    assert as_dict["channel"] == "2"
    assert as_dict["token_id"] == claims.token_id.hex()


def test_tokens_differ_each_mint(
    issuer: Issuer, credential: Credential, verifier: Verifier
) -> None:
    first = issuer.mint(credential, REGISTRATION)
    second = issuer.mint(credential, REGISTRATION)
    assert first != second
    ids = {verifier.verify(t, REGISTRATION).claims.token_id for t in (first, second)}
    assert len(ids) == 2


def test_mint_options(issuer: Issuer, credential: Credential, verifier: Verifier) -> None:
    token = issuer.mint(credential, SETTLEMENT, channel=Channel.ALIPAY, ttl=120, now=NOW - 10)
    claims = verifier.check(token, SETTLEMENT, now=NOW).claims
    assert claims.channel is Channel.ALIPAY
    assert (claims.issued_at, claims.expires_at) == (NOW - 10, NOW + 110)
    assert claims.business_type is SETTLEMENT


@pytest.mark.parametrize("data", ["text", "bytes", "bytearray", "memoryview"])
def test_bytes_input(token: str, verifier: Verifier, data: str) -> None:
    raw = token.encode("ascii")
    given = {"text": token, "bytes": raw, "bytearray": bytearray(raw),
             "memoryview": memoryview(raw)}[data]
    assert verifier.verify(given, REGISTRATION).claims.credential_id == "E4Q7ZK2M9PXA"  # type: ignore[arg-type]


def test_longest_valid_token_is_under_the_text_cap(issuer: Issuer, verifier: Verifier) -> None:
    longest = [
        Credential(c * 32, Region("619900"), InsuranceType.RESIDENT_SERIOUS_ILLNESS,
                   "欧" + "*" * 14 + "娜", Channel.BANK_APP, NOW - 1)
        for c in "AB"
    ]
    token = issuer.mint(longest[1], REGISTRATION, actor=longest[0], ttl=300)
    assert len(token) < MAX_TEXT_CHARS
    assert verifier.verify(token, REGISTRATION).actor == "A" * 32


# --- family accounts ----------------------------------------------------------


def test_family_member_token(issuer: Issuer, family: FamilyAccount, verifier: Verifier) -> None:
    member = family.members[0]
    token = issuer.mint_for_member(family, member.credential_id, REGISTRATION)
    result = verifier.verify(token, REGISTRATION)
    assert result.subject == member.credential_id
    assert result.actor == family.holder.credential_id
    assert result.claims.masked_name == member.masked_name
    assert result.claims.insurance_type is member.insurance_type
    assert result.claims.channel is family.holder.channel
    as_dict = result.to_dict()
    assert as_dict["credential_id"] == member.credential_id
    assert as_dict["actor_id"] == family.holder.credential_id


def test_family_member_must_be_bound(issuer: Issuer, family: FamilyAccount) -> None:
    with pytest.raises(InvalidArgument):
        issuer.mint_for_member(family, family.holder.credential_id, REGISTRATION)
    unbound = family.unbind(family.members[0].credential_id)
    with pytest.raises(InvalidArgument):
        issuer.mint_for_member(unbound, family.members[0].credential_id, REGISTRATION)


@pytest.mark.parametrize("status", [CredentialStatus.UNBOUND, CredentialStatus.SUSPENDED])
def test_family_code_needs_usable_holder_and_member(
    issuer: Issuer, family: FamilyAccount, status: CredentialStatus
) -> None:
    holder = dataclasses.replace(family.holder, status=status)
    member = family.members[0]
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE,
             lambda: issuer.mint_for_member(FamilyAccount(holder, family.members),
                                            member.credential_id, REGISTRATION))
    gone = dataclasses.replace(member, status=status)
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE,
             lambda: issuer.mint_for_member(FamilyAccount(family.holder, (gone,)),
                                            member.credential_id, REGISTRATION))


# --- minting refusals ---------------------------------------------------------


@pytest.mark.parametrize("status", [CredentialStatus.UNBOUND, CredentialStatus.SUSPENDED])
def test_unusable_credential_cannot_be_minted(
    issuer: Issuer, credential: Credential, status: CredentialStatus
) -> None:
    gone = dataclasses.replace(credential, status=status)
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE, lambda: issuer.mint(gone, REGISTRATION))


@pytest.mark.parametrize("ttl", [10, 60, 300])
def test_ttl_bounds_accepted(issuer: Issuer, credential: Credential, verifier: Verifier,
                             ttl: int) -> None:
    claims = verifier.verify(issuer.mint(credential, REGISTRATION, ttl=ttl), REGISTRATION).claims
    assert claims.lifetime == ttl


@pytest.mark.parametrize("ttl", [0, 9, 301, 3600, -60, True, 60.0, "60", None])
def test_ttl_bounds_refused(keys: KeyDir, clock: FixedClock, issuer: Issuer,
                            credential: Credential, ttl: object) -> None:
    if ttl is not None:
        with pytest.raises(InvalidArgument):
            issuer.mint(credential, REGISTRATION, ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Issuer(keys.signing_key, keys.group_key, ttl=ttl, clock=clock)  # type: ignore[arg-type]


def test_issuer_default_ttl_is_60(keys: KeyDir, clock: FixedClock, credential: Credential,
                                  verifier: Verifier) -> None:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=clock, ttl=30)
    minted = issuer.mint(credential, REGISTRATION)
    assert verifier.verify(minted, REGISTRATION).claims.lifetime == 30
    assert Issuer(keys.signing_key, keys.group_key, clock=clock).ttl == 60


@pytest.mark.parametrize("args", [("not a credential", REGISTRATION), (None, REGISTRATION)])
def test_mint_argument_types(
    issuer: Issuer, credential: Credential, args: tuple[object, ...]
) -> None:
    with pytest.raises(InvalidArgument):
        issuer.mint(*args)  # type: ignore[arg-type]
    for business in ("01101", 1101, None):
        with pytest.raises(InvalidArgument):
            issuer.mint(credential, business)  # type: ignore[arg-type]


@pytest.mark.parametrize("actor", ["HOLDER0001", 5, [], object()])
def test_mint_actor_must_be_a_credential(issuer: Issuer, credential: Credential,
                                         actor: object) -> None:
    """Regression: a non-Credential actor raised AttributeError."""
    with pytest.raises(InvalidArgument):
        issuer.mint(credential, REGISTRATION, actor=actor)  # type: ignore[arg-type]


def test_issuer_key_types(keys: KeyDir, clock: FixedClock) -> None:
    """Regression: wrong key objects raised AttributeError."""
    for args in ((None, keys.group_key), (keys.signing_key, None),
                 (keys.signing_key.public, keys.group_key), (keys.group_key, keys.signing_key)):
        with pytest.raises(InvalidArgument):
            Issuer(*args, clock=clock)  # type: ignore[arg-type]


def test_issuer_refuses_unusable_keys(keys: KeyDir, clock: FixedClock) -> None:
    for state in (KeyState.VERIFY_ONLY, KeyState.REVOKED):
        signing = dataclasses.replace(keys.signing_key, state=state)
        with pytest.raises(InvalidArgument):
            Issuer(signing, keys.group_key, clock=clock)
    revoked = GroupKey("national", keys.group_key.kid, keys.group_key.secret,
                       state=KeyState.REVOKED)
    with pytest.raises(InvalidArgument):
        Issuer(keys.signing_key, revoked, clock=clock)


def test_mint_outside_key_validity(keys: KeyDir, clock: FixedClock, credential: Credential) -> None:
    signing = dataclasses.replace(keys.signing_key, validity=Validity(NOW + 1, NOW + 100))
    issuer = issuer_for(signing, keys.group_key, clock)
    rejected(ErrorCode.KEY_NOT_VALID, lambda: issuer.mint(credential, REGISTRATION))
    assert issuer.mint(credential, REGISTRATION, now=NOW + 1)


def test_mint_outside_group_key_validity(keys: KeyDir, clock: FixedClock,
                                         credential: Credential) -> None:
    """Regression: a group key outside its window minted tokens no verifier accepts."""
    g = keys.group_key
    for window in (Validity(NOW + 1, None), Validity(None, NOW - 1)):
        group = GroupKey(g.group, g.kid, g.secret, validity=window)
        issuer = issuer_for(keys.signing_key, group, clock)
        rejected(ErrorCode.KEY_NOT_VALID, lambda i=issuer: i.mint(credential, REGISTRATION))
    group = GroupKey(g.group, g.kid, g.secret, validity=Validity(NOW, NOW))
    token = issuer_for(keys.signing_key, group, clock).mint(credential, REGISTRATION)
    verifier = running_verifier(TrustStore([keys.signing_key.public], [group]), clock)
    assert verifier.verify(token, REGISTRATION)


# --- time window ----------------------------------------------------------------


@pytest.mark.parametrize("leeway", [0, 1, 5, 30])
def test_leeway_applies_alike_at_both_ends(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential, leeway: int
) -> None:
    """Valid for now in [iat - leeway, exp + leeway): each end moves by exactly leeway."""
    iat, exp = NOW, NOW + 60
    token = issuer.mint(credential, REGISTRATION, now=iat)
    verifier = verifier_for(keys, clock, leeway=leeway)
    assert verifier.check(token, REGISTRATION, now=iat - leeway)
    assert verifier.check(token, REGISTRATION, now=exp + leeway - 1)
    rejected(ErrorCode.NOT_YET_VALID,
             lambda: verifier.check(token, REGISTRATION, now=iat - leeway - 1), token)
    rejected(ErrorCode.EXPIRED, lambda: verifier.check(token, REGISTRATION, now=exp + leeway),
             token)


def test_default_leeway_boundaries(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential
) -> None:
    """The brief's exact numbers, through the verifier's clock rather than ``now=``.

    (Each verifier's replay memory began an hour before NOW, so restart fencing
    does not interfere; two verifiers, so the first use does not make the second
    check a replay.)
    """
    assert VerifyPolicy().leeway == 5
    exp = NOW + 60
    at_edge, past_edge = verifier_for(keys, clock), verifier_for(keys, clock)
    exp_token = issuer.mint(credential, REGISTRATION, now=NOW)
    clock.now = exp + 4
    assert at_edge.verify(exp_token, REGISTRATION)
    clock.now = exp + 5
    rejected(ErrorCode.EXPIRED, lambda: past_edge.verify(exp_token, REGISTRATION), exp_token)
    iat = NOW + 1000
    iat_token = issuer.mint(credential, REGISTRATION, now=iat)
    verifier = verifier_for(keys, clock)
    clock.now = iat - 6
    rejected(ErrorCode.NOT_YET_VALID, lambda: verifier.verify(iat_token, REGISTRATION), iat_token)
    clock.now = iat - 5
    assert verifier.verify(iat_token, REGISTRATION)


def test_stepping_clock_expires_a_token(
    keys: KeyDir, clock: FixedClock, token: str
) -> None:
    verifier = verifier_for(keys, clock)
    clock.advance(64)
    assert verifier.check(token, REGISTRATION, now=clock())
    clock.advance(1)
    rejected(ErrorCode.EXPIRED, lambda: verifier.verify(token, REGISTRATION), token)


@pytest.mark.parametrize("now", [float("nan"), float(NOW), "1790000000", None, True])
def test_now_must_be_whole_seconds(keys: KeyDir, token: str, now: object) -> None:
    """Regression: a NaN time (from ``now=`` or a clock) passed every time check, so an
    expired token verified; other non-integers raised TypeError."""
    verifier = verifier_for(keys, FixedClock(NOW))
    if now is not None:
        with pytest.raises(InvalidArgument):
            verifier.check(token, REGISTRATION, now=now)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            verifier.verify(token, REGISTRATION, now=now)  # type: ignore[arg-type]
    clock = FixedClock(NOW)
    broken = Verifier(keys.trust_store(), VerifyPolicy(clock=clock))
    clock.now = now  # type: ignore[assignment]  # the clock goes wrong after start-up
    with pytest.raises(InvalidArgument):
        broken.verify(token, REGISTRATION)


def test_max_lifetime(keys: KeyDir, clock: FixedClock, issuer: Issuer,
                      credential: Credential) -> None:
    verifier = verifier_for(keys, clock, max_lifetime=60)
    assert verifier.verify(issuer.mint(credential, REGISTRATION, ttl=60), REGISTRATION)
    long = issuer.mint(credential, REGISTRATION, ttl=61)
    rejected(ErrorCode.LIFETIME_TOO_LONG, lambda: verifier.verify(long, REGISTRATION), long)


def test_lifetime_is_checked_before_expiry(keys: KeyDir, clock: FixedClock, issuer: Issuer,
                                           credential: Credential) -> None:
    long = issuer.mint(credential, REGISTRATION, ttl=300)
    verifier = verifier_for(keys, clock, max_lifetime=10)
    rejected(ErrorCode.LIFETIME_TOO_LONG,
             lambda: verifier.check(long, REGISTRATION, now=NOW + 10_000), long)


@pytest.mark.parametrize(
    "policy",
    [{"leeway": -1}, {"leeway": 31}, {"leeway": True}, {"leeway": 1.5},
     {"max_lifetime": 9}, {"max_lifetime": 301}, {"max_lifetime": None},
     {"business_types": {REGISTRATION}}, {"business_types": frozenset({"01101"})}],
)
def test_policy_validation(policy: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        VerifyPolicy(**policy)  # type: ignore[arg-type]


# --- business types ---------------------------------------------------------------


def test_business_type_matrix(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential
) -> None:
    """Every (requested, presented) pair, through the verifier and the policy function."""
    verifier = verifier_for(keys, clock)
    tokens = {b: issuer.mint(credential, b) for b in BusinessType}
    for requested in BusinessType:
        for presented, token in tokens.items():
            expected = (presented is requested if requested.is_payment
                        else not presented.is_payment)
            assert business_type_accepts(requested, presented) is expected
            if expected:
                assert verifier.check(token, requested, now=NOW).claims.business_type is presented
            else:
                rejected(ErrorCode.WRONG_BUSINESS_TYPE,
                         lambda t=token, r=requested: verifier.check(t, r, now=NOW), token)


def test_identity_token_never_opens_payment(issuer: Issuer, credential: Credential,
                                             verifier: Verifier) -> None:
    token = issuer.mint(credential, REGISTRATION)
    for payment in (BusinessType.HOSPITAL_DEPOSIT_PAYMENT, SETTLEMENT,
                    BusinessType.PHARMACY_PURCHASE):
        rejected(ErrorCode.WRONG_BUSINESS_TYPE, lambda p=payment: verifier.verify(token, p), token)
    # The refusals did not consume the token.
    assert verifier.verify(token, REGISTRATION)


def test_payment_token_only_for_its_own_step(issuer: Issuer, credential: Credential,
                                             verifier: Verifier) -> None:
    token = issuer.mint(credential, SETTLEMENT)
    rejected(ErrorCode.WRONG_BUSINESS_TYPE,
             lambda: verifier.verify(token, BusinessType.PHARMACY_PURCHASE), token)
    rejected(ErrorCode.WRONG_BUSINESS_TYPE, lambda: verifier.verify(token, REGISTRATION), token)
    assert verifier.verify(token, SETTLEMENT).business_class is BusinessClass.PAYMENT


def test_verifier_accepts_only_its_steps(keys: KeyDir, clock: FixedClock, token: str) -> None:
    pharmacy = verifier_for(keys, clock, business_types=frozenset({BusinessType.PHARMACY_PURCHASE}))
    rejected(ErrorCode.WRONG_BUSINESS_TYPE, lambda: pharmacy.verify(token, REGISTRATION), token)


@pytest.mark.parametrize("business", [None, ["01101"], "1101", 99999, True, b"01101",
                                      BusinessClass.IDENTITY])
def test_business_type_argument_must_be_a_business_type(token: str, verifier: Verifier,
                                                       business: object) -> None:
    """Regression: a plain "01101" used to raise AttributeError after the signature check."""
    with pytest.raises(InvalidArgument):
        verifier.verify(token, business)  # type: ignore[arg-type]
    assert verifier.verify(token, REGISTRATION)


@pytest.mark.parametrize("business", ["01101", 1101])
def test_business_type_code_is_accepted(token: str, verifier: Verifier, business: object) -> None:
    result = verifier.verify(token, business)  # type: ignore[arg-type]
    assert result.claims.business_type is REGISTRATION


# --- replay -------------------------------------------------------------------


def test_second_verify_is_replayed(token: str, verifier: Verifier) -> None:
    assert verifier.verify(token, REGISTRATION)
    rejected(ErrorCode.REPLAYED, lambda: verifier.verify(token, REGISTRATION), token)
    rejected(ErrorCode.REPLAYED, lambda: verifier.verify(token.encode(), REGISTRATION), token)


def test_check_does_not_mark(token: str, verifier: Verifier) -> None:
    assert verifier.check(token, REGISTRATION, now=NOW)
    assert verifier.check(token, REGISTRATION, now=NOW)
    assert verifier.verify(token, REGISTRATION)
    rejected(ErrorCode.REPLAYED, lambda: verifier.verify(token, REGISTRATION), token)


def test_re_encrypted_token_is_still_replayed(keys: KeyDir, token: str,
                                              verifier: Verifier) -> None:
    """Replay memory keys on the token id, not on the envelope bytes."""
    again = seal(keys.group_key, unseal(keys.group_key, token), nonce=bytes(13))
    assert again != token
    assert verifier.verify(token, REGISTRATION)
    rejected(ErrorCode.REPLAYED, lambda: verifier.verify(again, REGISTRATION), again)


def test_fresh_store_cannot_rule_out_earlier_use(keys: KeyDir, clock: FixedClock,
                                                 token: str) -> None:
    """A verifier whose replay memory began after the token was issued fails closed."""
    clock.advance(1)
    later = Verifier(keys.trust_store(), VerifyPolicy(clock=clock))  # its own, new memory
    rejected(ErrorCode.POSSIBLY_REPLAYED, lambda: later.verify(token, REGISTRATION), token)
    assert later.check(token, REGISTRATION, now=clock())


@pytest.mark.parametrize("leeway", [0, 5, 30])
def test_fresh_store_fences_up_to_one_leeway_after_its_memory_began(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential, leeway: int
) -> None:
    """Memory began at B (the verifier's creation): a token with iat <= B + leeway could
    have been used at or before B (the issuer's clock may run one leeway ahead, and times
    are whole seconds), so it is fenced; iat = B + leeway + 1 is the first one accepted."""
    began = NOW
    fresh = Verifier(keys.trust_store(), VerifyPolicy(clock=clock, leeway=leeway))
    assert clock() == began
    for iat in (began, began + leeway):
        token = issuer.mint(credential, REGISTRATION, now=iat)
        rejected(ErrorCode.POSSIBLY_REPLAYED, lambda t=token: fresh.verify(t, REGISTRATION),
                 token)
        assert fresh.check(token, REGISTRATION, now=clock())  # fenced, nothing else wrong
    first = issuer.mint(credential, REGISTRATION, now=began + leeway + 1)
    clock.now = began + 1
    assert fresh.verify(first, REGISTRATION)
    rejected(ErrorCode.REPLAYED, lambda: fresh.verify(first, REGISTRATION), first)


def _forged_issuer(keys: KeyDir, clock: FixedClock) -> Issuer:
    """A different Ed25519 key under the real issuer kid (and the real group key)."""
    forged = IssuerSigningKey("NHSA", keys.signing_key.kid, Ed25519PrivateKey(bytes(32)))
    return issuer_for(forged, keys.group_key, clock, seed=b"mint")


def test_forgery_does_not_burn_the_real_token_id(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential, verifier: Verifier
) -> None:
    real = issuer.mint(credential, REGISTRATION)
    forged = _forged_issuer(keys, clock).mint(credential, REGISTRATION)
    real_id = decode_claims(decode_sign1(unseal(keys.group_key, real)).payload).token_id
    forged_id = decode_claims(decode_sign1(unseal(keys.group_key, forged)).payload).token_id
    assert forged != real
    assert forged_id == real_id
    for _ in range(3):
        rejected(ErrorCode.BAD_SIGNATURE, lambda: verifier.verify(forged, REGISTRATION), forged)
    assert verifier.verify(real, REGISTRATION).claims.token_id == real_id
    rejected(ErrorCode.REPLAYED, lambda: verifier.verify(real, REGISTRATION), real)


def test_no_rejection_burns_the_token(keys: KeyDir, clock: FixedClock, token: str) -> None:
    verifier = verifier_for(keys, clock)
    rejected(ErrorCode.WRONG_BUSINESS_TYPE, lambda: verifier.verify(token, SETTLEMENT), token)
    rejected(ErrorCode.EXPIRED, lambda: verifier.verify(token, REGISTRATION, now=NOW + 65), token)
    rejected(ErrorCode.NOT_YET_VALID,
             lambda: verifier.verify(token, REGISTRATION, now=NOW - 6), token)
    assert verifier.verify(token, REGISTRATION)


# --- keys ---------------------------------------------------------------------


def test_unknown_group_kid(keys: KeyDir, clock: FixedClock, token: str) -> None:
    other = GroupKey("national", b"\x00\x00\x00\x00", bytes(16))
    verifier = Verifier(TrustStore([keys.signing_key.public], [other]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.UNKNOWN_KEY, lambda: verifier.verify(token, REGISTRATION), token)


def test_same_group_kid_other_secret_fails_decryption(keys: KeyDir, clock: FixedClock,
                                                     token: str) -> None:
    wrong = GroupKey("national", keys.group_key.kid, bytes(16))
    verifier = Verifier(TrustStore([keys.signing_key.public], [wrong]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.DECRYPTION_FAILED, lambda: verifier.verify(token, REGISTRATION), token)


def test_unknown_issuer_kid(keys: KeyDir, clock: FixedClock, token: str) -> None:
    stranger = Ed25519PrivateKey(bytes(32)).public_key
    other = IssuerVerifyKey("NHSA", b"\x00\x00\x00\x00", stranger)
    verifier = Verifier(TrustStore([other], [keys.group_key]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.UNKNOWN_KEY, lambda: verifier.verify(token, REGISTRATION), token)
    empty = Verifier(TrustStore(), VerifyPolicy(clock=clock))
    rejected(ErrorCode.UNKNOWN_KEY, lambda: empty.verify(token, REGISTRATION), token)


def test_revoked_issuer_key(keys: KeyDir, clock: FixedClock, token: str) -> None:
    revoked = dataclasses.replace(keys.signing_key.public, state=KeyState.REVOKED)
    verifier = Verifier(TrustStore([revoked], [keys.group_key]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.KEY_REVOKED, lambda: verifier.verify(token, REGISTRATION), token)


def test_revoked_group_key(keys: KeyDir, clock: FixedClock, token: str) -> None:
    g = keys.group_key
    revoked = GroupKey(g.group, g.kid, g.secret, state=KeyState.REVOKED)
    verifier = Verifier(TrustStore([keys.signing_key.public], [revoked]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.KEY_REVOKED, lambda: verifier.verify(token, REGISTRATION), token)


def test_verify_only_keys_still_verify(keys: KeyDir, clock: FixedClock, token: str) -> None:
    old = dataclasses.replace(keys.signing_key.public, state=KeyState.VERIFY_ONLY)
    g = keys.group_key
    old_group = GroupKey(g.group, g.kid, g.secret, state=KeyState.VERIFY_ONLY)
    verifier = running_verifier(TrustStore([old], [old_group]), clock)
    assert verifier.verify(token, REGISTRATION)


@pytest.mark.parametrize("which", ["issuer", "group"])
def test_key_validity_window(keys: KeyDir, clock: FixedClock, token: str, which: str) -> None:
    window = Validity(NOW + 1, None)
    issuer_key = keys.signing_key.public
    g = keys.group_key
    group_key = g
    if which == "issuer":
        issuer_key = dataclasses.replace(issuer_key, validity=window)
    else:
        group_key = GroupKey(g.group, g.kid, g.secret, validity=window)
    verifier = Verifier(TrustStore([issuer_key], [group_key]), VerifyPolicy(clock=clock))
    rejected(ErrorCode.KEY_NOT_VALID, lambda: verifier.verify(token, REGISTRATION), token)


# --- regions ----------------------------------------------------------------------


@pytest.fixture
def beijing_keys() -> KeyDir:
    return generate("BJ", "national", frozenset({"11"}), deterministic_random(b"beijing"))


def test_wrong_region_refused_at_mint(beijing_keys: KeyDir, clock: FixedClock,
                                      credential: Credential) -> None:
    issuer = issuer_for(beijing_keys.signing_key, beijing_keys.group_key, clock)
    xian = dataclasses.replace(credential, region=Region("610100"))
    rejected(ErrorCode.WRONG_REGION, lambda: issuer.mint(xian, REGISTRATION))
    verifier = verifier_for(beijing_keys, clock)
    assert verifier.verify(issuer.mint(credential, REGISTRATION), REGISTRATION).issuer == "BJ"


def test_wrong_region_refused_at_verify(beijing_keys: KeyDir, clock: FixedClock) -> None:
    bj = issuer_for(beijing_keys.signing_key, beijing_keys.group_key, clock)
    claims = TokenClaims(
        token_id=bytes(range(8)), issued_at=NOW, expires_at=NOW + 60,
        credential_id="E4Q7ZK2M9PXA", subject_kind=SubjectKind.INSURED_PERSON,
        region=Region("610100"), insurance_type=InsuranceType.RESIDENT_BASIC,
        masked_name="张*丰", business_type=REGISTRATION, channel=Channel.WECHAT,
    )
    token = bj.mint_claims(claims)
    verifier = verifier_for(beijing_keys, clock)
    rejected(ErrorCode.WRONG_REGION, lambda: verifier.verify(token, REGISTRATION), token)
    # The same claims for a Beijing region pass under the same key.
    beijing = bj.mint_claims(dataclasses.replace(claims, region=Region("110105")))
    assert verifier.verify(beijing, REGISTRATION).claims.region == Region("110105")


# --- credential hook --------------------------------------------------------------


def test_credential_usable_hook(keys: KeyDir, clock: FixedClock, token: str,
                                credential: Credential) -> None:
    seen: list[str] = []

    def revoked(cid: str) -> bool:
        seen.append(cid)
        return False

    verifier = verifier_for(keys, clock, credential_usable=revoked)
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE, lambda: verifier.verify(token, REGISTRATION), token)
    assert seen == [credential.credential_id]
    allowing = verifier_for(keys, clock, credential_usable=lambda cid: True)
    assert allowing.verify(token, REGISTRATION)


def test_credential_usable_hook_covers_the_family_holder(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, family: FamilyAccount
) -> None:
    """Regression: a member's code stayed usable after the presenting holder unbound."""
    holder, member = family.holder, family.members[0]
    token = issuer.mint_for_member(family, member.credential_id, REGISTRATION)
    asked: list[str] = []

    def unbound_holder(cid: str) -> bool:
        asked.append(cid)
        return cid != holder.credential_id

    verifier = verifier_for(keys, clock, credential_usable=unbound_holder)
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE, lambda: verifier.verify(token, REGISTRATION), token)
    assert holder.credential_id in asked
    gone_member = verifier_for(keys, clock,
                               credential_usable=lambda cid: cid != member.credential_id)
    rejected(ErrorCode.CREDENTIAL_NOT_USABLE, lambda: gone_member.verify(token, REGISTRATION),
             token)
    # Refusals did not burn the token: a verifier whose hook allows both accepts it.
    both = verifier_for(keys, clock, credential_usable=lambda cid: True)
    assert both.verify(token, REGISTRATION).actor == holder.credential_id


# --- malformed input --------------------------------------------------------------


def test_oversized_text_is_refused_before_decoding(token: str, verifier: Verifier) -> None:
    filler = "0" * 3 * 200  # valid Base45, so only the length can refuse it
    for long_input in (token + filler, PREFIX + filler[: MAX_TEXT_CHARS - 3],
                       "EC1:" + "%" * 10_000_000):
        err = rejected(ErrorCode.MALFORMED, lambda t=long_input: verifier.verify(t, REGISTRATION))
        assert err.detail == "too long"
        err = rejected(ErrorCode.MALFORMED,
                       lambda t=long_input: verifier.verify(t.encode(), REGISTRATION))
        assert err.detail == "too long"
    at_cap = PREFIX + filler[: MAX_TEXT_CHARS - len(PREFIX) - 2]
    assert len(at_cap) == MAX_TEXT_CHARS - 2
    err = rejected(ErrorCode.MALFORMED, lambda: verifier.verify(at_cap, REGISTRATION))
    assert err.detail != "too long"


@pytest.mark.parametrize(
    "bad",
    ["", "EC1:", "EC1", "ec1:", "EC2:", "HC1:", " EC1:", "EC1: ", "EC1:A", "EC1:GGW",
     "EC1:ZZ", "EC1:bb8", "EC1:BB8", "EC1:00", b"", b"EC1:\xff\xfe", b"\x00" * 10,
     "EC1:\u00e9\u00e9\u00e9", None, 123, ["EC1:"], 1.5],
)
def test_garbage_is_malformed(verifier: Verifier, bad: object) -> None:
    rejected(ErrorCode.MALFORMED, lambda: verifier.verify(bad, REGISTRATION))  # type: ignore[arg-type]


@pytest.mark.parametrize("added", [
    ("", "\n"), ("", "\r\n"), ("", "\r"), ("  ", "  \r\n"), (" ", ""), ("\ufeff", ""),
    ("\ufeff ", " \n"),
])
def test_what_a_scanner_adds_is_tolerated(token: str, verifier: Verifier,
                                          added: tuple[str, str]) -> None:
    """A keyboard-wedge scanner types CR/LF after the code, some add spaces, and some
    text sources start with a UTF-8 BOM: the same token, as text and as bytes."""
    before, after = added
    text = before + token + after
    assert verifier.check(text, REGISTRATION, now=NOW).claims.token_id
    assert verifier.check(text.encode(), REGISTRATION, now=NOW).claims.token_id
    assert verifier.verify(text, REGISTRATION, now=NOW).issuer


def test_anything_else_around_a_token_is_refused(token: str, verifier: Verifier) -> None:
    for variant in ("\n" + token, "\t" + token, token + "\t", token + "\x00", token + "\n\n x",
                    token.lower(), token.replace("EC1:", "EC1:0"), token.replace("EC1:", "EC1: "),
                    token[:40] + "\n" + token[40:], "\ufeff\ufeff" + token, token + "\ufeff"):
        rejected(ErrorCode.MALFORMED, lambda v=variant: verifier.verify(v, REGISTRATION))


@pytest.mark.parametrize("length", [0, 1, 8, 12, 14, 16, 32])
def test_wrong_nonce_length_is_malformed(keys: KeyDir, token: str, verifier: Verifier,
                                         length: int) -> None:
    from ecert_token.codec import cose
    from ecert_token.token.text import from_text, to_text

    envelope = cose.decode_encrypt0(from_text(token))
    odd = to_text(cose.encode_encrypt0(envelope.protected, bytes(length), envelope.ciphertext))
    err = rejected(ErrorCode.MALFORMED, lambda: verifier.verify(odd, REGISTRATION), odd)
    assert err.detail == "wrong nonce length"


def test_algorithm_must_match_the_key(keys: KeyDir, token: str, verifier: Verifier) -> None:
    from ecert_token.codec import cose

    g = keys.group_key
    gcm = seal(g, unseal(g, token), protected=cose.encode_protected(1, g.kid))  # A128GCM
    rejected(ErrorCode.MALFORMED, lambda: verifier.verify(gcm, REGISTRATION), gcm)
    signed = decode_sign1(unseal(g, token))
    es256 = seal(g, sign1(keys.signing_key, signed.payload,
                          protected=cose.encode_protected(-7, keys.signing_key.kid)))
    rejected(ErrorCode.MALFORMED, lambda: verifier.verify(es256, REGISTRATION), es256)


def test_api_misuse_raises_invalid_argument(
    keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    """Wrong types given to the constructors and to mint are the library's own error."""
    for call in (
        lambda: Verifier(None),  # type: ignore[arg-type]
        lambda: Verifier(keys.trust_store(), policy="strict"),  # type: ignore[arg-type]
        lambda: TrustStore(None),  # type: ignore[arg-type]
        lambda: issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION, now=1.5e9),  # type: ignore[arg-type]
        lambda: issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION, now=float("nan")),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArgument):
            call()


def test_to_dict_is_its_typed_dict(token: str, verifier: Verifier) -> None:
    from typing import get_type_hints

    from ecert_token.token.result import VerifiedTokenDict

    def check(fields: Mapping[str, object], typed: type) -> None:
        hints = get_type_hints(typed)
        assert list(fields) == list(hints)
        for name, value in fields.items():
            expected = hints[name]
            if isinstance(expected, type) and issubclass(expected, dict):  # nested TypedDict
                assert isinstance(value, dict)
                check(value, expected)
            else:
                assert isinstance(value, expected if expected in (str, int) else (str, type(None)))

    check(verifier.verify(token, REGISTRATION).to_dict(), VerifiedTokenDict)
