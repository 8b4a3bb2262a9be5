"""Minting gives the same bytes and the same errors as the general path."""

from __future__ import annotations

import random

import cbor2
import nacl.bindings as sodium
import pytest

from ecert_token import (
    BusinessType,
    Channel,
    Credential,
    FamilyAccount,
    FixedClock,
    InsuranceType,
    InvalidArgument,
    Issuer,
    Region,
    SubjectKind,
    TokenClaims,
)
from ecert_token.codec import cose
from ecert_token.codec.cwt import encode_claims
from ecert_token.keys.keydir import KeyDir

from ..conftest import NOW, deterministic_random
from . import reference


def reference_mint(keys: KeyDir, claims: TokenClaims, nonce: bytes) -> str:
    """Sign-then-encrypt with the canonical CBOR encoder and the original Base45."""
    sk, gk = keys.signing_key, keys.group_key
    fields: list[object] = [claims.region.wire, claims.insurance_type.wire,
                            claims.business_type.wire, claims.channel.wire,
                            claims.masked_name, claims.subject_kind.wire]
    if claims.actor_id is not None:
        fields.append(claims.actor_id)
    payload = cbor2.dumps({2: claims.credential_id, 4: claims.expires_at,
                           6: claims.issued_at, 7: claims.token_id, -65537: fields},
                          canonical=True)
    sprot = cbor2.dumps({1: -8, 4: sk.kid}, canonical=True)
    secret = sodium.crypto_sign_seed_keypair(sk.private_key.seed)[1]
    sig = sodium.crypto_sign(cose.sig_structure(sprot, payload), secret)[:64]
    signed = b"\xd2" + cbor2.dumps([sprot, {}, payload, sig], canonical=True)
    eprot = cbor2.dumps({1: 10, 4: gk.kid}, canonical=True)
    ct = gk.aead._aead.encrypt(nonce, signed, cose.enc_structure(eprot))
    return "EC1:" + reference.b45encode(b"\xd0" + cbor2.dumps([eprot, {5: nonce}, ct],
                                                             canonical=True))


@pytest.mark.parametrize("business", list(BusinessType))
def test_mint_bytes_unchanged(keys: KeyDir, credential: Credential, family: FamilyAccount,
                              business: BusinessType) -> None:
    for channel in (None, Channel.BANK_APP):
        rnd_a, rnd_b = deterministic_random(b"m"), deterministic_random(b"m")
        issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                        random_bytes=rnd_a)
        token = issuer.mint(credential, business, channel=channel)
        token_id, nonce = rnd_b(8), rnd_b(13)
        claims = TokenClaims(token_id, NOW, NOW + 60, credential.credential_id,
                             credential.subject_kind, credential.region,
                             credential.insurance_type, credential.masked_name, business,
                             channel or credential.channel)
        assert token == reference_mint(keys, claims, nonce)
        member = issuer.mint_for_member(family, "K8D2WQ5T7RNB", business)
        assert member != token


def test_encoders_write_canonical_cbor() -> None:
    rnd = random.Random(3)
    for _ in range(200):
        prot, payload, sig, iv, ct = (rnd.randbytes(rnd.choice([0, 5, 23, 24, 255, 256, 300]))
                                      for _ in range(5))
        assert cose.encode_sign1(prot, payload, sig) == b"\xd2" + cbor2.dumps(
            [prot, {}, payload, sig], canonical=True)
        assert cose.encode_encrypt0(prot, iv, ct) == b"\xd0" + cbor2.dumps(
            [prot, {5: iv}, ct], canonical=True)


def test_claims_encoding_is_canonical(keys: KeyDir, credential: Credential,
                                      family: FamilyAccount) -> None:
    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    for actor in (None, family.holder):
        subject = credential if actor is None else family.members[0]
        claims = TokenClaims(bytes(16), 2**32 + 5, 2**32 + 65, subject.credential_id,
                             subject.subject_kind, subject.region, subject.insurance_type,
                             "*" * 16, BusinessType.PHARMACY_PURCHASE, Channel.ALIPAY,
                             None if actor is None else actor.credential_id)
        payload = encode_claims(claims)
        assert payload == cbor2.dumps(cbor2.loads(payload), canonical=True)
        assert issuer.mint_claims(claims).startswith("EC1:")


def errors(fn: object) -> str:
    try:
        fn()  # type: ignore[operator]
    except InvalidArgument as exc:
        return str(exc)
    except TypeError:
        return "TypeError"
    return "ok"


def test_mint_errors_match_the_claims_constructor(keys: KeyDir, credential: Credential,
                                                  family: FamilyAccount) -> None:
    def issuer(random_bytes: object) -> Issuer:
        return Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW),
                      random_bytes=random_bytes)  # type: ignore[arg-type]

    reg = BusinessType.HOSPITAL_REGISTRATION
    cases = {
        "short id": (lambda: issuer(lambda n: b"x" * 7).mint(credential, reg),
                     lambda: TokenClaims(b"x" * 7, NOW, NOW + 60, "E4Q7ZK2M9PXA",
                                         credential.subject_kind, credential.region,
                                         credential.insurance_type, "张*丰", reg,
                                         credential.channel)),
        "str id": (lambda: issuer(lambda n: "x" * 8).mint(credential, reg),
                   lambda: TokenClaims("x" * 8, NOW, NOW + 60, "E4Q7ZK2M9PXA",  # type: ignore[arg-type]
                                       credential.subject_kind, credential.region,
                                       credential.insurance_type, "张*丰", reg,
                                       credential.channel)),
        "time": (lambda: issuer(bytes).mint(credential, reg, now=-5),
                 lambda: TokenClaims(bytes(8), -5, 55, "E4Q7ZK2M9PXA",
                                     credential.subject_kind, credential.region,
                                     credential.insurance_type, "张*丰", reg,
                                     credential.channel)),
        "late": (lambda: issuer(bytes).mint(credential, reg, now=2**40 - 30),
                 lambda: TokenClaims(bytes(8), 2**40 - 30, 2**40 + 30, "E4Q7ZK2M9PXA",
                                     credential.subject_kind, credential.region,
                                     credential.insurance_type, "张*丰", reg,
                                     credential.channel)),
        "channel": (lambda: issuer(bytes).mint(credential, reg, channel="2"),  # type: ignore[arg-type]
                    lambda: TokenClaims(bytes(8), NOW, NOW + 60, "E4Q7ZK2M9PXA",
                                        credential.subject_kind, credential.region,
                                        credential.insurance_type, "张*丰", reg,
                                        "2")),  # type: ignore[arg-type]
        "actor": (lambda: issuer(bytes).mint(credential, reg, actor=credential),
                  lambda: TokenClaims(bytes(8), NOW, NOW + 60, "E4Q7ZK2M9PXA",
                                      credential.subject_kind, credential.region,
                                      credential.insurance_type, "张*丰", reg,
                                      credential.channel, "E4Q7ZK2M9PXA")),
    }
    for name, (fast, general) in cases.items():
        assert errors(fast) == errors(general) != "ok", name


@pytest.mark.parametrize("times", [(NOW, NOW + 60), (0x10000, 0x10000 + 10), (5, 65),
                                   (0xFFFF_FFC0, 0xFFFF_FFFF), (0xFFFF_FFC0, 2**32 + 20),
                                   (2**33, 2**33 + 300)])
def test_claims_encoding_matches_the_canonical_encoder(times: tuple[int, int]) -> None:
    rnd = random.Random(times[0])
    for cid, name, actor, tid in (("E4Q7ZK2M9PXA", "张*丰", None, bytes(8)),
                                  ("x" * 32, "*" * 16, "y" * 24, bytes(16)),
                                  ("abcdef", "李*", "K8D2WQ5T7RNB", rnd.randbytes(9))):
        for bt in BusinessType:
            claims = TokenClaims(tid, times[0], times[1], cid, SubjectKind.PHARMACY,
                                 Region("820001"), InsuranceType.MATERNITY, name, bt,
                                 Channel.BANK_APP, actor)
            fields: list[object] = [820001, 510, int(bt.value), 22, name, 7]
            if actor is not None:
                fields.append(actor)
            expected = cbor2.dumps({2: cid, 4: times[1], 6: times[0], 7: tid, -65537: fields},
                                   canonical=True)
            assert encode_claims(claims) == expected


def test_the_random_source_is_the_one_given_at_construction(
        keys: KeyDir, credential: Credential, monkeypatch: pytest.MonkeyPatch) -> None:
    """An Issuer made with the default ``os.urandom`` draws from that function, not from
    whatever ``os.urandom`` names at mint time: replacing the module attribute later
    (a test harness, a fuzzer) must not make two mints share a token id and a nonce.
    (The one-draw path read ``os.urandom`` at call time; this failed on it.)"""
    import os

    issuer = Issuer(keys.signing_key, keys.group_key, clock=FixedClock(NOW))
    monkeypatch.setattr(os, "urandom", bytes)
    first = issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
    second = issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION)
    assert first != second
