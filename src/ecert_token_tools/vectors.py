"""Published test vectors: tokens with the outcome every implementation must reach.

Terminal vendors writing their verifier in C or Java check it against these
files (``docs/vectors/*.json``, format in ``docs/vectors/README.md``).  The
generator is deterministic: keys come from a fixed seed, time is fixed and
nonces and token ids come from a seeded byte source, so regenerating gives
byte-identical files.

The keys are TEST KEYS ONLY.  Their private parts are published on purpose so
that anyone can re-mint the tokens; never trust them anywhere else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecert_token.codec import cose
from ecert_token.codec.cwt import encode_claims
from ecert_token.crypto.ed25519 import ALG_EDDSA, Ed25519PrivateKey
from ecert_token.crypto.sm2 import ALG_SM2_SM3, SM2PrivateKey
from ecert_token.crypto.sm4 import ALG_SM4_GCM
from ecert_token.errors import EcertError, ErrorCode, InvalidArgument
from ecert_token.inspect import inspect_token
from ecert_token.keys.jwk import (
    b64url_decode,
    group_key_from_jwk,
    group_key_jwk,
    issuer_public_from_jwk,
    issuer_public_jwk,
)
from ecert_token.keys.keydir import KeyDir, generate, new_group_key
from ecert_token.keys.material import (
    GroupKey,
    IssuerSigningKey,
    IssuerVerifyKey,
    KeyState,
    Validity,
)
from ecert_token.keys.suite import Suite
from ecert_token.keys.trust_store import TrustStore
from ecert_token.model import (
    BusinessType,
    Channel,
    Credential,
    FamilyAccount,
    InsuranceType,
    Region,
    TokenClaims,
)
from ecert_token.replay.memory import MemoryReplayStore
from ecert_token.token import Issuer, Verifier, VerifyPolicy
from ecert_token.token.text import from_text, to_text

FORMAT = "ecert-token-vectors/1"
SEED = b"ecert-token published test vectors v1"
NOW = 1_790_000_000
"""The fixed 'now' of every vector (2026-09-21T14:13:20Z)."""

TEST_KEY_WARNING = (
    "TEST KEYS ONLY: the private keys below are published so anyone can re-mint these "
    "tokens; never trust them outside tests"
)
REPLAY_RULE = (
    "run the checks in order against one fresh replay memory per file; the memory covers "
    "every token in the file (no restart fence)"
)
VALID = "valid"

RandomBytes = Callable[[int], bytes]
Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, name)`` after each file."""


def seeded_random(seed: bytes) -> RandomBytes:
    """A reproducible byte source (SHA-256 in counter mode).  For tests and vectors only."""
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return random_bytes


@dataclass(frozen=True, slots=True)
class Check:
    """One verification a file asks for, and the outcome it expects."""

    description: str
    token: str
    business_type: BusinessType
    now: int
    outcome: str


@dataclass(frozen=True, slots=True)
class Trust:
    """The trust material of one file: issuer keys (published with seeds) and group keys.

    An issuer key's binding (regions, window, state) is what the verifier is
    told; the verifier sees only its public half.
    """

    issuers: tuple[IssuerSigningKey, ...]
    groups: tuple[GroupKey, ...]

    def verify_keys(self) -> list[IssuerVerifyKey]:
        return [dataclasses.replace(sk.public, state=_trusted_state(sk)) for sk in self.issuers]

    def store(self) -> TrustStore:
        return TrustStore(self.verify_keys(), self.groups)


def _trusted_state(key: IssuerSigningKey) -> KeyState:
    """Verifiers hold issuer keys as verify-only unless the vector revokes them."""
    return KeyState.REVOKED if key.state is KeyState.REVOKED else KeyState.VERIFY_ONLY


@dataclass(frozen=True, slots=True)
class Vector:
    """One vector file: trust, policy and an ordered list of checks."""

    name: str
    description: str
    trust: Trust
    checks: tuple[Check, ...]
    policy: VerifyPolicy = field(default_factory=VerifyPolicy)


# -- the sample people and keys --------------------------------------------------------------

def sample_person() -> Credential:
    """The sample insured person of the vectors, the tests, the docs and the benchmarks."""
    return Credential(
        credential_id="E4Q7ZK2M9PXA", region=Region("110105"),
        insurance_type=InsuranceType.EMPLOYEE_BASIC, masked_name="张*丰",
        channel=Channel.WECHAT, issued_at=NOW - 86_400 * 365,
    )


def sample_family() -> FamilyAccount:
    """``sample_person`` holding a family account with one bound child."""
    child = Credential(
        credential_id="K8D2WQ5T7RNB", region=Region("110105"),
        insurance_type=InsuranceType.RESIDENT_BASIC, masked_name="张*",
        channel=Channel.WECHAT, issued_at=NOW - 86_400 * 30,
    )
    return FamilyAccount(sample_person(), (child,))


@dataclass(frozen=True, slots=True)
class _Keys:
    main: KeyDir
    rogue: KeyDir
    sm: KeyDir
    """The SM suite: an SM2 issuer key and an SM4-CCM group key."""
    sm_gcm: GroupKey
    sm_rogue: IssuerSigningKey
    sm_custom_id: IssuerSigningKey
    """An SM2 issuer key signing under a signer ID other than the default."""


SM2_CUSTOM_ID = b"NHSA-SM issuer 01"


def _seeded_sm2(key: IssuerSigningKey, name: bytes, uid: bytes | None = None
                ) -> IssuerSigningKey:
    """``key`` signing with nonces from a seeded stream (vectors only: the files must
    regenerate byte for byte; a real SM2 key draws every nonce from os.urandom)."""
    assert isinstance(key.private_key, SM2PrivateKey)
    private = SM2PrivateKey(key.private_key.secret, uid or key.private_key.uid,
                            random_bytes=seeded_random(SEED + b"/sm2-nonces/" + name))
    return dataclasses.replace(key, private_key=private)


def _keys() -> _Keys:
    sm = generate("NHSA-SM", "national-sm", random_bytes=seeded_random(SEED + b"/keys/sm"),
                  suite=Suite.SM)
    rogue = generate("ROGUE", "rogue", random_bytes=seeded_random(SEED + b"/keys/sm-rogue"),
                     suite=Suite.SM)
    custom = generate("NHSA-SM-ID", "unused", random_bytes=seeded_random(SEED + b"/keys/sm-id"),
                      suite=Suite.SM)
    return _Keys(
        main=generate("NHSA", "national", random_bytes=seeded_random(SEED + b"/keys/main")),
        rogue=generate("ROGUE", "rogue", random_bytes=seeded_random(SEED + b"/keys/rogue")),
        sm=KeyDir.of(_seeded_sm2(sm.signing_key, b"main"), sm.group_key),
        sm_gcm=new_group_key("national-sm-gcm", seeded_random(SEED + b"/keys/sm-gcm"),
                             alg=ALG_SM4_GCM),
        sm_rogue=_seeded_sm2(rogue.signing_key, b"rogue"),
        sm_custom_id=_seeded_sm2(custom.signing_key, b"custom-id", SM2_CUSTOM_ID),
    )


def _issuer(signing: IssuerSigningKey, group: GroupKey, name: str) -> Issuer:
    return Issuer(signing, group, clock=lambda: NOW,
                  random_bytes=seeded_random(SEED + b"/mint/" + name.encode()))


def _main_trust(k: _Keys) -> Trust:
    return Trust((k.main.signing_key,), (k.main.group_key,))


# -- the vectors ------------------------------------------------------------------------------

REG = BusinessType.HOSPITAL_REGISTRATION
BUY = BusinessType.PHARMACY_PURCHASE


def _valid(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "valid")
    p = sample_person()
    return Vector("valid", "well-formed tokens checked within their lifetime", _main_trust(k), (
        Check("registration code at the registration step", iss.mint(p, REG), REG, NOW, VALID),
        Check("purchase code at a pharmacy till, 30 s after issue", iss.mint(p, BUY), BUY,
              NOW + 30, VALID),
        Check("registration (identity) code at another identity step, consultation",
              iss.mint(p, REG), BusinessType.HOSPITAL_CONSULTATION, NOW, VALID),
    ))


def _family_member(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "family")
    token = iss.mint_for_member(sample_family(), "K8D2WQ5T7RNB", BUY)
    return Vector("family_member", "a family member's code shown by the account holder: "
                  "subject is the member, actor the holder", _main_trust(k), (
        Check("member's purchase code", token, BUY, NOW, VALID),
    ))


def _expired(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "expired")
    old = iss.mint(sample_person(), REG, now=NOW - 120)
    return Vector("expired", "a 60 s code presented two minutes after issue", _main_trust(k), (
        Check("issued 120 s ago, expired 60 s ago", old, REG, NOW, ErrorCode.EXPIRED),
    ))


def _not_yet_valid(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "not_yet_valid")
    early = iss.mint(sample_person(), REG, now=NOW + 60)
    return Vector("not_yet_valid", "a code issued by a clock running a minute ahead",
                  _main_trust(k), (
        Check("issued 60 s in the future", early, REG, NOW, ErrorCode.NOT_YET_VALID),
    ))


def _time_window(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "time_window")
    p = sample_person()
    leeway = VerifyPolicy().leeway
    return Vector("time_window", f"the edges of the window with a leeway of {leeway} s: valid "
                  "while now - leeway < exp and now + leeway >= iat", _main_trust(k), (
        Check("last second before expiry plus leeway", iss.mint(p, REG), REG,
              NOW + 60 + leeway - 1, VALID),
        Check("exactly expiry plus leeway", iss.mint(p, REG), REG, NOW + 60 + leeway,
              ErrorCode.EXPIRED),
        Check("issue time minus leeway", iss.mint(p, REG), REG, NOW - leeway, VALID),
        Check("one second earlier", iss.mint(p, REG), REG, NOW - leeway - 1,
              ErrorCode.NOT_YET_VALID),
    ))


def _lifetime_too_long(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "lifetime")
    long_lived = _claims("LIFETIME", NOW, NOW + VerifyPolicy().max_lifetime + 1)
    return Vector("lifetime_too_long", "a code whose lifetime exceeds the 300 s maximum",
                  _main_trust(k), (
        Check("exp - iat = 301 s", iss.mint_claims(long_lived), REG, NOW,
              ErrorCode.LIFETIME_TOO_LONG),
    ))


def _claims(tag: str, iat: int, exp: int, region: str = "110105") -> TokenClaims:
    p = sample_person()
    return TokenClaims(
        token_id=hashlib.sha256(SEED + tag.encode()).digest()[:8], issued_at=iat,
        expires_at=exp, credential_id=p.credential_id, subject_kind=p.subject_kind,
        region=Region(region), insurance_type=p.insurance_type, masked_name=p.masked_name,
        business_type=REG, channel=p.channel,
    )


def _replayed(k: _Keys) -> Vector:
    token = _issuer(k.main.signing_key, k.main.group_key, "replayed").mint(sample_person(), BUY)
    return Vector("replayed", "the same code presented twice", _main_trust(k), (
        Check("first presentation", token, BUY, NOW, VALID),
        Check("second presentation, 5 s later", token, BUY, NOW + 5, ErrorCode.REPLAYED),
    ))


def _flip(token: str, part: str, index: int) -> str:
    """The token with one bit flipped in the nonce, the ciphertext or the protected kid."""
    env = cose.decode_encrypt0(from_text(token))
    iv, ct, protected = env.iv, env.ciphertext, env.protected
    if part == "iv":
        iv = _flip_byte(iv, index)
    elif part == "ciphertext":
        ct = _flip_byte(ct, index)
    else:
        protected = cose.encode_protected(env.header.alg, _flip_byte(env.header.kid, index))
    return to_text(cose.encode_encrypt0(protected, iv, ct))


def _flip_byte(data: bytes, index: int) -> bytes:
    i = index % len(data)
    return data[:i] + bytes((data[i] ^ 0x01,)) + data[i + 1:]


def _tampered(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "tampered")
    p = sample_person()
    return Vector("tampered", "valid codes with one bit flipped", _main_trust(k), (
        Check("bit 0 of the first ciphertext byte", _flip(iss.mint(p, REG), "ciphertext", 0),
              REG, NOW, ErrorCode.DECRYPTION_FAILED),
        Check("bit 0 of the last byte (the AEAD tag)", _flip(iss.mint(p, REG), "ciphertext", -1),
              REG, NOW, ErrorCode.DECRYPTION_FAILED),
        Check("bit 0 of the first nonce byte", _flip(iss.mint(p, REG), "iv", 0), REG, NOW,
              ErrorCode.DECRYPTION_FAILED),
        Check("bit 0 of the last byte of the group kid", _flip(iss.mint(p, REG), "kid", -1),
              REG, NOW, ErrorCode.UNKNOWN_KEY),
    ))


def _wrong_business_type(k: _Keys) -> Vector:
    iss = _issuer(k.main.signing_key, k.main.group_key, "business")
    p = sample_person()
    return Vector("wrong_business_type", "codes used for a step they were not minted for: a "
                  "payment step needs a code for exactly that step; an identity step accepts "
                  "any identity code and never a payment one", _main_trust(k), (
        Check("registration (identity) code at settlement (payment)", iss.mint(p, REG),
              BusinessType.HOSPITAL_SETTLEMENT, NOW, ErrorCode.WRONG_BUSINESS_TYPE),
        Check("purchase (payment) code at registration (identity)", iss.mint(p, BUY), REG, NOW,
              ErrorCode.WRONG_BUSINESS_TYPE),
        Check("pharmacy purchase code at hospital settlement", iss.mint(p, BUY),
              BusinessType.HOSPITAL_SETTLEMENT, NOW, ErrorCode.WRONG_BUSINESS_TYPE),
    ))


def _unknown_key(k: _Keys) -> Vector:
    p = sample_person()
    to_rogue_group = _issuer(k.main.signing_key, k.rogue.group_key, "unknown_group")
    by_rogue_issuer = _issuer(k.rogue.signing_key, k.main.group_key, "unknown_issuer")
    return Vector("unknown_key", "codes naming keys that are not in the trust material",
                  _main_trust(k), (
        Check("encrypted to a group key that is not trusted", to_rogue_group.mint(p, REG), REG,
              NOW, ErrorCode.UNKNOWN_KEY),
        Check("encrypted properly, signed by an issuer key that is not trusted",
              by_rogue_issuer.mint(p, REG), REG, NOW, ErrorCode.UNKNOWN_KEY),
    ))


def _wrong_region(k: _Keys) -> Vector:
    limited = dataclasses.replace(k.main.signing_key, regions=frozenset({"11"}))
    iss = _issuer(limited, k.main.group_key, "wrong_region")
    xian = _claims("XIAN", NOW, NOW + 60, region="610102")
    trust = Trust((limited,), (k.main.group_key,))
    return Vector("wrong_region", "an issuer key bound to province 11 (Beijing) signs a code "
                  "for an insured region in province 61 (Shaanxi)", trust, (
        Check("Beijing-only key, Xi'an region 610102", iss.mint_claims(xian), REG, NOW,
              ErrorCode.WRONG_REGION),
        Check("the same key for its own province", iss.mint(sample_person(), REG), REG, NOW, VALID),
    ))


def _bad_signature(k: _Keys) -> Vector:
    impostor = dataclasses.replace(k.rogue.signing_key, issuer="NHSA", kid=k.main.signing_key.kid)
    iss = _issuer(impostor, k.main.group_key, "bad_signature")
    return Vector("bad_signature", "a code encrypted to the right group and signed under the "
                  "trusted issuer's kid by another key", _main_trust(k), (
        Check("signed by the wrong private key", iss.mint(sample_person(), REG), REG, NOW,
              ErrorCode.BAD_SIGNATURE),
    ))


def _key_revoked(k: _Keys) -> Vector:
    token = _issuer(k.main.signing_key, k.main.group_key, "revoked").mint(sample_person(), REG)
    revoked = dataclasses.replace(k.main.signing_key, state=KeyState.REVOKED)
    trust = Trust((revoked,), (k.main.group_key,))
    return Vector("key_revoked", "the issuer key is revoked in the trust material", trust, (
        Check("signed by a revoked key", token, REG, NOW, ErrorCode.KEY_REVOKED),
    ))


def _key_not_valid(k: _Keys) -> Vector:
    token = _issuer(k.main.signing_key, k.main.group_key, "key_window").mint(sample_person(), REG)
    window = Validity(not_before=NOW - 86_400 * 30, not_after=NOW - 86_400)
    ended = dataclasses.replace(k.main.signing_key, validity=window)
    trust = Trust((ended,), (k.main.group_key,))
    return Vector("key_not_valid", "the issuer key's validity window ended a day before the "
                  "code was issued", trust, (
        Check("issued after the key's not_after", token, REG, NOW, ErrorCode.KEY_NOT_VALID),
    ))


def _malformed(k: _Keys) -> Vector:
    good = _issuer(k.main.signing_key, k.main.group_key, "malformed").mint(sample_person(), REG)
    env = cose.decode_encrypt0(from_text(good))
    body = cose.encode_encrypt0(env.protected, env.iv, env.ciphertext)
    wrong_alg = cose.encode_encrypt0(cose.encode_protected(1, env.header.kid), env.iv,
                                     env.ciphertext)
    cases = (
        ("empty text", ""),
        ("another format's prefix", "HC1:" + good[4:]),
        ("lower-case Base45 is not Base45", good[:4] + good[4:].lower()),
        ("Base45 of bytes that are not CBOR", to_text(b"\xff\xfe\xfd")),
        ("COSE_Encrypt0 without its tag 16", to_text(body[1:])),
        ("one trailing byte after the COSE message", to_text(body + b"\x00")),
        ("protected header names AES-GCM (alg 1) for an AES-CCM key", to_text(wrong_alg)),
        ("longer than 600 characters", "EC1:" + "0" * 600),
    )
    return Vector("malformed", "inputs that are not tokens of this format", _main_trust(k), tuple(
        Check(desc, text, REG, NOW, ErrorCode.MALFORMED) for desc, text in cases
    ))


def _sm_trust(k: _Keys) -> Trust:
    return Trust((k.sm.signing_key, k.sm_custom_id), (k.sm.group_key, k.sm_gcm))


def _sm_valid(k: _Keys) -> Vector:
    iss = _issuer(k.sm.signing_key, k.sm.group_key, "sm_valid")
    gcm = _issuer(k.sm.signing_key, k.sm_gcm, "sm_valid_gcm")
    custom = _issuer(k.sm_custom_id, k.sm.group_key, "sm_valid_custom_id")
    p = sample_person()
    return Vector("sm_valid", "the SM suite: SM2 signatures over SM3 (default signer ID) and "
                  "SM4-CCM-16-64-128 or SM4-GCM encryption, chosen by the keys",
                  _sm_trust(k), (
        Check("SM2 + SM4-CCM registration code at the registration step", iss.mint(p, REG),
              REG, NOW, VALID),
        Check("SM2 + SM4-CCM purchase code at a pharmacy till, 30 s after issue",
              iss.mint(p, BUY), BUY, NOW + 30, VALID),
        Check("SM2 + SM4-GCM registration code", gcm.mint(p, REG), REG, NOW, VALID),
        Check("SM2 under the signer ID 'NHSA-SM issuer 01' (JWK member sm2_id)",
              custom.mint(p, REG), REG, NOW, VALID),
    ))


def _sealed(sk: IssuerSigningKey, gk: GroupKey, sign_alg: int, tag: str) -> str:
    """A token whose COSE_Sign1 names ``sign_alg`` under ``sk``'s kid, signed by ``sk``."""
    protected = cose.encode_protected(sign_alg, sk.kid)
    payload = encode_claims(_claims(tag, NOW, NOW + 60))
    signature = sk.private_key.sign(cose.sig_structure(protected, payload))
    enc = cose.encode_protected(gk.alg, gk.kid)
    nonce, ciphertext = gk.aead.encrypt(
        cose.encode_sign1(protected, payload, signature), cose.enc_structure(enc),
        seeded_random(SEED + b"/sealed/" + tag.encode()))
    return to_text(cose.encode_encrypt0(enc, nonce, ciphertext))


def _sm_rejected(k: _Keys) -> Vector:
    iss = _issuer(k.sm.signing_key, k.sm.group_key, "sm_rejected")
    impostor = dataclasses.replace(k.sm_rogue, issuer=k.sm.signing_key.issuer,
                                   kid=k.sm.signing_key.kid)
    forged = _issuer(impostor, k.sm.group_key, "sm_bad_signature")
    p = sample_person()
    trust = Trust((k.sm.signing_key, k.main.signing_key),
                  (k.sm.group_key, k.sm_gcm, k.main.group_key))
    token = iss.mint(p, REG)
    return Vector("sm_rejected", "SM-suite codes that must be refused, with the same codes "
                  "as the Ed25519 suite; the algorithm comes from the key bound to the kid",
                  trust, (
        Check("first presentation", token, REG, NOW, VALID),
        Check("second presentation, 5 s later", token, REG, NOW + 5, ErrorCode.REPLAYED),
        Check("bit 0 of the last byte (the SM4-CCM tag)",
              _flip(iss.mint(p, REG), "ciphertext", -1), REG, NOW, ErrorCode.DECRYPTION_FAILED),
        Check("the trusted SM2 kid, signed by another SM2 key", forged.mint(p, REG), REG, NOW,
              ErrorCode.BAD_SIGNATURE),
        Check("an SM2 key's kid with the EdDSA alg (-8) in the COSE_Sign1",
              _sealed(k.sm.signing_key, k.sm.group_key, ALG_EDDSA, "sm-as-ed"), REG, NOW,
              ErrorCode.MALFORMED),
        Check("an Ed25519 key's kid with the SM2 alg (-65537) in the COSE_Sign1",
              _sealed(k.main.signing_key, k.main.group_key, ALG_SM2_SM3, "ed-as-sm"), REG, NOW,
              ErrorCode.MALFORMED),
    ))


BUILDERS: tuple[Callable[[_Keys], Vector], ...] = (
    _valid, _family_member, _expired, _not_yet_valid, _time_window, _lifetime_too_long,
    _replayed, _tampered, _wrong_business_type, _unknown_key, _wrong_region, _bad_signature,
    _key_revoked, _key_not_valid, _malformed, _sm_valid, _sm_rejected,
)


# -- running and serialising ------------------------------------------------------------------

def run_checks(
    trust: TrustStore, policy: VerifyPolicy, checks: list[tuple[str, BusinessType, int]]
) -> Iterator[tuple[str, dict[str, object] | None]]:
    """Verify each ``(token, business_type, now)`` in order with one replay memory.

    Yields ``(outcome, claims)``: ``"valid"`` and the verification result, or
    an error code and None.
    """
    replay = MemoryReplayStore(policy.replay_window, clock=lambda: 0, leeway=policy.leeway)
    verifier = Verifier(trust, policy, replay)
    for token, business_type, now in checks:
        try:
            result = verifier.verify(token, business_type, now=now)
        except EcertError as err:
            yield err.code.value, None
        else:
            yield VALID, dict(result.to_dict())


def _validity_dict(v: Validity) -> dict[str, int | None]:
    return {"not_before": v.not_before, "not_after": v.not_after}


def _trust_dict(trust: Trust) -> dict[str, object]:
    issuers = []
    for sk, vk in zip(trust.issuers, trust.verify_keys(), strict=True):
        issuers.append({
            "issuer": vk.issuer,
            "regions": None if vk.regions is None else sorted(vk.regions),
            "state": vk.state.value,
            **_validity_dict(vk.validity),
            "public_jwk": issuer_public_jwk(vk),
            "test_only_private_seed_hex": sk.private_key.seed.hex(),
        })
    groups = [
        {"group": g.group, "state": g.state.value, **_validity_dict(g.validity),
         "jwk": group_key_jwk(g)}
        for g in trust.groups
    ]
    return {"warning": TEST_KEY_WARNING, "issuer_keys": issuers, "group_keys": groups}


def _layers(token: str, group: GroupKey) -> dict[str, object] | None:
    """The hex of each layer, for implementers stepping through their decoder."""
    try:
        seen = inspect_token(token, group)
    except EcertError:
        return None
    if seen.sign1 is None or seen.payload is None:
        return None
    env = cose.decode_encrypt0(seen.encrypt0.data)
    return {
        "cose_encrypt0_hex": seen.encrypt0.data.hex(),
        "nonce_hex": env.iv.hex(),
        "cose_sign1_hex": seen.sign1.data.hex(),
        "claims_cbor_hex": seen.payload.hex(),
    }


def vector_document(vector: Vector) -> dict[str, object]:
    """The JSON document of one vector, with outcomes checked against this library."""
    trust_store = vector.trust.store()
    pol = vector.policy
    policy = dataclasses.replace(pol, clock=lambda: NOW)
    runs = run_checks(
        trust_store, policy, [(c.token, c.business_type, c.now) for c in vector.checks]
    )
    checks = []
    for check, (outcome, claims) in zip(vector.checks, runs, strict=True):
        if outcome != check.outcome:
            raise InvalidArgument(f"vector {vector.name}: a check did not reach its outcome")
        checks.append({
            "description": check.description,
            "token": check.token,
            "business_type": check.business_type.value,
            "now": check.now,
            "expected": {"outcome": outcome, "claims": claims},
            "layers": _layers(check.token, vector.trust.groups[0]),
        })
    return {
        "format": FORMAT,
        "name": vector.name,
        "description": vector.description,
        "trust": _trust_dict(vector.trust),
        "policy": {
            "leeway": pol.leeway,
            "max_lifetime": pol.max_lifetime,
            "business_types": sorted(b.value for b in pol.business_types),
        },
        "replay": REPLAY_RULE,
        "checks": checks,
    }


def dumps(document: dict[str, object]) -> bytes:
    """Canonical file bytes: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def build_documents(progress: Progress | None = None) -> list[tuple[str, bytes]]:
    """Every vector file as ``(file name, bytes)``, in a fixed order."""
    keys = _keys()
    out = []
    for i, build in enumerate(BUILDERS, 1):
        vector = build(keys)
        out.append((f"{vector.name}.json", dumps(vector_document(vector))))
        if progress is not None:
            progress(i, len(BUILDERS), vector.name)
    return out


def write_vectors(
    directory: str | os.PathLike[str], progress: Progress | None = None
) -> list[Path]:
    """Generate the vectors into ``directory`` (created if missing); return the paths."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in build_documents(progress):
            path = directory / name
            path.write_bytes(data)
            paths.append(path)
    except OSError:
        raise InvalidArgument(f"cannot write the vector directory {directory.name}/") from None
    return paths


# -- reading ----------------------------------------------------------------------------------

def trust_from_document(document: dict[str, Any]) -> TrustStore:
    """The trust store a vector file describes (public keys only; seeds are ignored)."""
    trust = document["trust"]
    issuers = [
        issuer_public_from_jwk(
            k["public_jwk"], k["issuer"],
            None if k["regions"] is None else frozenset(k["regions"]),
            Validity(k["not_before"], k["not_after"]), KeyState(k["state"]),
        )
        for k in trust["issuer_keys"]
    ]
    groups = [
        group_key_from_jwk(g["jwk"], g["group"], Validity(g["not_before"], g["not_after"]),
                           KeyState(g["state"]))
        for g in trust["group_keys"]
    ]
    return TrustStore(issuers, groups)


def policy_from_document(document: dict[str, Any]) -> VerifyPolicy:
    p = document["policy"]
    return VerifyPolicy(
        business_types=frozenset(BusinessType(b) for b in p["business_types"]),
        leeway=p["leeway"], max_lifetime=p["max_lifetime"], clock=lambda: NOW,
    )


def check_document(document: dict[str, Any]) -> list[tuple[str, dict[str, object] | None]]:
    """Run a vector file's checks with this library; one ``(outcome, claims)`` per check."""
    checks = [
        (c["token"], BusinessType(c["business_type"]), c["now"]) for c in document["checks"]
    ]
    return list(run_checks(trust_from_document(document), policy_from_document(document),
                           checks))


def seed_matches(key: dict[str, Any]) -> bool:
    """Does an issuer key's published test seed (an SM2 key's ``d``) give its public key?"""
    seed = bytes.fromhex(key["test_only_private_seed_hex"])
    jwk = key["public_jwk"]
    if jwk.get("crv") == "SM2":
        public = b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
        return bool(SM2PrivateKey(seed).public_key.raw == public)
    return bool(Ed25519PrivateKey(seed).public_key.raw == b64url_decode(jwk["x"]))
