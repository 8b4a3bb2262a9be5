"""The verifier's fast paths give the same results and errors as the general path.

``reference.check`` is the pipeline as written before the fast paths; every
token here goes through both and the outcomes (the VerifiedToken, or the
error code and message) must be identical.
"""

from __future__ import annotations

import random

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FamilyAccount,
    GroupKey,
    Issuer,
    KeyState,
    TokenRejected,
    TrustStore,
    Validity,
    Verifier,
    VerifyPolicy,
)
from ecert_token.codec import cose
from ecert_token.codec.cose import COSEError, split_encrypt0, split_sign1
from ecert_token.codec.cwt import ClaimsError, decode_claims, decode_claims_fast
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerVerifyKey
from ecert_token.token.text import from_text, to_text

from ..conftest import NOW, running_store
from . import reference
from .conftest import Sealer, canonical, claims_map

REG = BusinessType.HOSPITAL_REGISTRATION


def same(verifier: Verifier, token: str | bytes, business: BusinessType = REG,
         now: int = NOW) -> tuple[str, object]:
    fast = reference.outcome(lambda t, b, n: verifier.check(t, b, now=n), token, business, now)
    slow = reference.outcome(
        lambda t, b, n: reference.check(verifier, t, b, n), token, business, now
    )
    assert fast == slow
    return fast


def claims_outcome(fn: object, payload: bytes) -> tuple[str, object]:
    try:
        return "ok", fn(payload)  # type: ignore[operator]
    except ClaimsError as exc:
        return "error", str(exc)


def split_outcome(fn: object, data: bytes) -> tuple[str, object]:
    try:
        return "ok", fn(data)  # type: ignore[operator]
    except COSEError as exc:
        return "error", str(exc)


# --- claims --------------------------------------------------------------

LONG_ID = "A" * 24 + "_-b9"
VALID_CLAIMS = [
    claims_map(),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1, "K8D2WQ5T7RNB"]}),
    claims_map({2: LONG_ID}),
    claims_map({2: "Z" * 32, -65537: [619900, 510, 3131, 22, "*" * 14 + "李王", 8, LONG_ID]}),
    claims_map({7: bytes(16)}),
    claims_map({-65537: [820001, 392, 2122, 1, "司马*", 7]}),
]
INVALID_CLAIMS = [
    claims_map({7: bytes(7)}),
    claims_map({7: bytes(17)}),
    claims_map({7: bytes(24)}),
    claims_map({7: "not bytes"}),
    claims_map({4: NOW, 6: NOW}),
    claims_map({4: NOW - 1}),
    claims_map({4: 2**40, 6: 2**40 - 60}),
    claims_map({4: "soon"}),
    claims_map({4: 1.5}),
    claims_map({4: True}),
    claims_map({6: -1}),
    claims_map({2: "short"}),
    claims_map({2: "x" * 33}),
    claims_map({2: "bad id!"}),
    claims_map({2: b"E4Q7ZK2M9PXA"}),
    claims_map({-65537: [100105, 310, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: [11010, 310, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: [1101050, 310, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: [-110105, 310, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: ["110105", 310, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: [110105, 311, 1101, 2, "张*丰", 1]}),
    claims_map({-65537: [110105, 310, 1100, 2, "张*丰", 1]}),
    claims_map({-65537: [110105, 310, 1101, 0, "张*丰", 1]}),
    claims_map({-65537: [110105, 310, 1101, 6, "张*丰", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 9]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张三丰", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰三", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "*" * 17, 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "1*2345", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*\n", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1, "E4Q7ZK2M9PXA"]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1, "bad"]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1, None]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1, "K8D2WQ5T7RNB", 1]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰"]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 24]}),
    claims_map({-65537: [110105, 310, 1101, 2, "张*丰", 1.0]}),
    claims_map({-65537: (110105, 310, 1101, 2, "张*丰", 1, 2, 3)}),
    claims_map({-65537: {1: 2}}),
    claims_map({8: 1}),
    {k: v for k, v in claims_map().items() if k != 7},
]


def non_canonical_payloads() -> list[bytes]:
    base = canonical(claims_map())
    reordered = cbor2.dumps({-65537: claims_map()[-65537], 7: bytes(range(8)), 6: NOW,
                             4: NOW + 60, 2: "E4Q7ZK2M9PXA"})
    exp_head = canonical({4: NOW + 60})[1:]  # 1a + 4 bytes
    wide_exp = base.replace(exp_head, b"\x1b" + (NOW + 60).to_bytes(8, "big"), 1)
    small_channel = base.replace(b"\x19\x04\x4d\x02", b"\x19\x04\x4d\x18\x02", 1)
    long_sub = base.replace(b"\x6cE4Q7", b"\x78\x0cE4Q7", 1)
    indefinite = base.replace(b"\x86\x1a", b"\x9f\x1a", 1) + b"\xff"
    duplicate = b"\xa6" + base[1:] + b"\x02\x6cE4Q7ZK2M9PXA"
    tagged_time = base.replace(b"\x06" + exp_head[:1], b"\x06\xc1" + exp_head[:1], 1)
    return [
        reordered, wide_exp, small_channel, long_sub, indefinite, duplicate, tagged_time,
        base + b"\x00", base + b"\xa0", base[:-1], b"", b"\xa5", b"\xa0",
        canonical([1, 2, 3]), canonical(claims_map())[:-1] + b"\x18\x01",
    ]


@pytest.mark.parametrize("value", VALID_CLAIMS + INVALID_CLAIMS)
def test_claims_decoders_agree_on_values(value: dict[object, object]) -> None:
    payload = canonical(value)
    assert claims_outcome(decode_claims_fast, payload) == claims_outcome(decode_claims, payload)


@pytest.mark.parametrize("payload", non_canonical_payloads())
def test_claims_decoders_agree_on_encodings(payload: bytes) -> None:
    assert claims_outcome(decode_claims_fast, payload) == claims_outcome(decode_claims, payload)


def test_valid_claims_take_the_fast_path() -> None:
    from ecert_token.codec.cwt import decode_claims_layout

    for value in VALID_CLAIMS:
        assert decode_claims_layout(canonical(value)) == decode_claims(canonical(value))


def test_claims_decoders_agree_on_every_byte_mutation() -> None:
    rnd = random.Random(7)
    for value in VALID_CLAIMS:
        payload = canonical(value)
        for i in range(len(payload)):
            for b in {0x00, 0x17, 0x18, 0x1A, 0x40, 0x60, 0x78, 0xFF, rnd.randrange(256),
                      payload[i] ^ 1}:
                mutated = payload[:i] + bytes([b]) + payload[i + 1:]
                assert claims_outcome(decode_claims_fast, mutated) == claims_outcome(
                    decode_claims, mutated
                ), (i, b)
            for cut in (payload[:i], payload[:i] + payload[i + 1:]):
                assert claims_outcome(decode_claims_fast, cut) == claims_outcome(
                    decode_claims, cut
                )


def test_fast_claims_are_ordinary_frozen_claims() -> None:
    from dataclasses import FrozenInstanceError

    claims = decode_claims_fast(canonical(VALID_CLAIMS[1]))
    general = decode_claims(canonical(VALID_CLAIMS[1]))
    assert type(claims) is type(general)
    assert claims == general and hash(claims) == hash(general) and repr(claims) == repr(general)
    with pytest.raises(FrozenInstanceError):
        claims.token_id = b"x" * 8  # type: ignore[misc]


# --- COSE envelopes ------------------------------------------------------

def test_split_agrees_with_decode_on_mutations(keys: KeyDir, sealer: Sealer) -> None:
    plaintext = sealer.sign1(canonical(claims_map()))
    envelope = sealer.encrypt0(plaintext)

    def enc_fields(data: bytes) -> tuple[object, ...]:
        e = cose.decode_encrypt0(data)
        return (e.protected, e.header.alg, e.header.kid, e.iv, e.ciphertext,
                cose.enc_structure(e.protected))

    def sign_fields(data: bytes) -> tuple[object, ...]:
        s = cose.decode_sign1(data)
        return (s.protected, s.header.alg, s.header.kid, s.payload, s.signature,
                cose.sig_structure(s.protected, s.payload))

    rnd = random.Random(9)
    for data, fast, slow in ((envelope, split_encrypt0, enc_fields),
                             (plaintext, split_sign1, sign_fields)):
        assert split_outcome(fast, data) == split_outcome(slow, data)
        for i in range(len(data)):
            for b in {0x00, 0x17, 0x20, 0x37, 0x40, 0x4D, 0x57, 0x58, 0x59, 0xA0, 0xA1,
                      0xFF, rnd.randrange(256)}:
                mutated = data[:i] + bytes([b]) + data[i + 1:]
                assert split_outcome(fast, mutated) == split_outcome(slow, mutated), (i, b)
            for cut in (data[:i], data + bytes([i]), data[:i] + data[i + 1:]):
                assert split_outcome(fast, cut) == split_outcome(slow, cut)


def protected(alg: int, kid: bytes, order: str = "canonical") -> bytes:
    if order == "canonical":
        return cose.encode_protected(alg, kid)
    return cbor2.dumps({4: kid, 1: alg})


SHORT_PAYLOAD = canonical({2: "E4Q7ZK2M9PX", 4: NOW})
assert len(SHORT_PAYLOAD) == 0x14


def non_shortest_ciphertext(sealer: Sealer, plaintext: bytes) -> bytes:
    """A sealed COSE_Encrypt0 whose short ciphertext has the heading 58 xx."""
    canonical_env = sealer.encrypt0(plaintext)
    ct_size = len(plaintext) + 8
    assert ct_size < 24 and canonical_env[-ct_size - 1] == 0x40 + ct_size
    return canonical_env[:-ct_size - 1] + bytes([0x58, ct_size]) + canonical_env[-ct_size:]


def envelope_variants(keys: KeyDir, sealer: Sealer) -> list[str]:
    sk, gk = keys.signing_key, keys.group_key
    payload = canonical(claims_map())
    good_sign = sealer.sign1(payload)
    sig = sk.private_key.sign(cose.sig_structure(cose.encode_protected(-8, sk.kid), payload))
    prot = cose.encode_protected(-8, sk.kid)
    variants = [
        sealer.encrypt0(good_sign),
        sealer.encrypt0(good_sign, protected=protected(10, gk.kid, "swapped")),
        sealer.encrypt0(good_sign, protected=protected(11, gk.kid)),
        sealer.encrypt0(good_sign, protected=protected(-1, gk.kid)),
        sealer.encrypt0(good_sign, protected=protected(10, gk.kid + b"\x00")),
        sealer.encrypt0(good_sign, protected=cbor2.dumps({1: 10, 4: gk.kid, 2: [1]})),
        sealer.encrypt0(good_sign, iv=bytes(12)),
        sealer.encrypt0(good_sign, iv=bytes(7)),
        sealer.encrypt0(sealer.sign1(payload, protected=protected(-8, sk.kid, "swapped"))),
        sealer.encrypt0(sealer.sign1(payload, protected=protected(-7, sk.kid))),
        sealer.encrypt0(sealer.sign1(payload, protected=protected(-8, b"\x01\x02\x03\x04"))),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, payload, sig[:63]])),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, payload, sig + b"\x00"])),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {1: -8}, payload, sig])),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, payload, sig]) + b"\x00"),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, payload, sig, b""])),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, payload, bytes(64)])),
        sealer.encrypt0(b"\xd2" + cbor2.dumps([prot, {}, canonical(claims_map({4: NOW + 61})),
                                               sig])),
        sealer.encrypt0(b"\xd2\x84" + cose.bstr_head(len(prot)) + prot + b"\xa0\x59\x00"
                        + bytes([len(payload)]) + payload + b"\x58\x40" + sig),
        sealer.encrypt0(good_sign[1:]),
        sealer.encrypt0(b"\xd0" + good_sign[1:]),
        # Non-shortest one-byte length headings (58 xx below 24), signed and sealed:
        # a short payload, and a short ciphertext.
        sealer.encrypt0(b"\xd2\x84" + cose.bstr_head(len(prot)) + prot + b"\xa0\x58\x14"
                        + SHORT_PAYLOAD + b"\x58\x40"
                        + sk.private_key.sign(cose.sig_structure(prot, SHORT_PAYLOAD))),
        non_shortest_ciphertext(sealer, b"\xa0"),
    ]
    text = [to_text(v) for v in variants]
    text.append(to_text(sealer.encrypt0(good_sign) + b"\x00"))
    text.append(to_text(b"\xd2" + sealer.encrypt0(good_sign)[1:]))
    return text


def test_envelope_variants(keys: KeyDir, sealer: Sealer, verifier: Verifier) -> None:
    outcomes = [same(verifier, t) for t in envelope_variants(keys, sealer)]
    assert outcomes[0][0] == "ok"
    assert outcomes[1][0] == "ok"  # a valid, non-canonical protected header


@pytest.mark.parametrize("index", range(len(VALID_CLAIMS + INVALID_CLAIMS)))
def test_claims_through_the_verifier(index: int, sealer: Sealer, verifier: Verifier) -> None:
    value = (VALID_CLAIMS + INVALID_CLAIMS)[index]
    result = same(verifier, sealer.token(canonical(value)))
    assert (result[0] == "ok") == (index < len(VALID_CLAIMS))


def test_encodings_through_the_verifier(sealer: Sealer, verifier: Verifier) -> None:
    for payload in non_canonical_payloads():
        same(verifier, sealer.token(payload))


def test_mutated_tokens(token: str, sealer: Sealer, verifier: Verifier) -> None:
    rnd = random.Random(11)
    raw = from_text(token)
    for i in range(len(raw)):
        mutated = raw[:i] + bytes([raw[i] ^ (1 << rnd.randrange(8))]) + raw[i + 1:]
        same(verifier, to_text(mutated))
    plaintext = sealer.sign1(canonical(claims_map()))
    for i in range(0, len(plaintext)):
        mutated = plaintext[:i] + bytes([rnd.randrange(256)]) + plaintext[i + 1:]
        same(verifier, sealer.token_from_plaintext(mutated))
    for text in (token[:i] for i in range(0, len(token), 7)):
        same(verifier, text)
    for i in range(4, len(token), 5):
        for c in ("0", ":", "a", " ", "\u00e9", "~"):
            same(verifier, token[:i] + c + token[i + 1:])


def test_text_layer(token: str, verifier: Verifier) -> None:
    for text in (token.encode(), bytearray(token.encode()), memoryview(token.encode()),
                 token + "0" * 400, token.encode() + b"0" * 400, "ec1:" + token[4:],
                 "HC1:" + token[4:], "https://example.org/?q=1", "", "EC1:", "EC1:0",
                 token.encode() + "\u00e9".encode(), 12345, None, token[:-1] + "\u00e9"):
        same(verifier, text)  # type: ignore[arg-type]


def test_policy_and_key_outcomes(keys: KeyDir, issuer: Issuer, credential: Credential,
                                 family: FamilyAccount) -> None:
    sk, gk = keys.signing_key, keys.group_key
    pub = sk.public

    def verifier(issuer_key: IssuerVerifyKey = pub, group: GroupKey = gk,
                 **policy: object) -> Verifier:
        return Verifier(TrustStore([issuer_key], [group]), VerifyPolicy(**policy),  # type: ignore[arg-type]
                        running_store(leeway=policy.get("leeway", 5)))  # type: ignore[arg-type]

    def key(**kw: object) -> IssuerVerifyKey:
        fields = {"issuer": pub.issuer, "kid": pub.kid, "public_key": pub.public_key,
                  "regions": pub.regions, "validity": pub.validity, "state": pub.state}
        fields.update(kw)
        return IssuerVerifyKey(**fields)  # type: ignore[arg-type]

    tokens = {
        bt: issuer.mint(credential, bt) for bt in (
            BusinessType.HOSPITAL_REGISTRATION, BusinessType.HOSPITAL_SETTLEMENT,
            BusinessType.PHARMACY_PURCHASE)
    }
    tokens["member"] = issuer.mint_for_member(family, "K8D2WQ5T7RNB", REG)
    verifiers = [
        verifier(),
        verifier(key(state=KeyState.REVOKED)),
        verifier(key(regions=frozenset({"31"}))),
        verifier(key(regions=frozenset({"11", "31"}))),
        verifier(key(validity=Validity(NOW + 1, None))),
        verifier(key(validity=Validity(None, NOW - 1))),
        verifier(group=GroupKey(gk.group, gk.kid, gk.secret, state=KeyState.REVOKED)),
        verifier(group=GroupKey(gk.group, gk.kid, gk.secret, validity=Validity(None, NOW - 1))),
        verifier(group=GroupKey(gk.group, gk.kid, bytes(16))),
        verifier(group=GroupKey(gk.group, b"\x00\x00\x00\x00", gk.secret)),
        verifier(key(kid=b"\x09\x09\x09\x09")),
        verifier(max_lifetime=30),
        verifier(leeway=0),
        verifier(business_types=frozenset({BusinessType.PHARMACY_PURCHASE})),
        verifier(credential_usable=lambda cid: cid != "E4Q7ZK2M9PXA"),
    ]
    seen = set()
    for v in verifiers:
        for t in tokens.values():
            for bt in (REG, BusinessType.HOSPITAL_SETTLEMENT, BusinessType.PHARMACY_PURCHASE,
                       BusinessType.HOSPITAL_CONSULTATION):
                for now in (NOW - 10, NOW - 5, NOW, NOW + 64, NOW + 65, NOW + 400):
                    kind, value = same(v, t, bt, now)
                    seen.add(value[0] if kind == "error" else "ok")  # type: ignore[index]
    assert len(seen) >= 10  # the corpus reaches most outcomes


@given(st.text(alphabet="*  张王丰李司马0123456789aZ\u00a0\u3000\n\t\u200b\u0660\u0661\u0662\u0663",
               max_size=20))
def test_masked_name_rule_matches_the_model(name: str) -> None:
    value = claims_map({-65537: [110105, 310, 1101, 2, name, 1]})
    payload = canonical(value)
    assert claims_outcome(decode_claims_fast, payload) == claims_outcome(decode_claims, payload)


def test_tokens_from_the_issuer_take_every_fast_path(
    token: str, verifier: Verifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Issuer writes never reaches the general decoders (so the benchmark
    measures the fast paths); the general ones still answer for anything else."""
    import ecert_token.codec.cose as cose_module
    import ecert_token.codec.cwt as cwt_module

    def refuse(*_args: object) -> object:
        raise AssertionError("general path used")

    monkeypatch.setattr(cose_module, "decode_encrypt0", refuse)
    monkeypatch.setattr(cose_module, "decode_sign1", refuse)
    monkeypatch.setattr(cwt_module, "decode_claims", refuse)
    assert verifier.verify(token, REG).claims.credential_id == "E4Q7ZK2M9PXA"
    with pytest.raises(TokenRejected) as rejected:
        verifier.check(token[:-3] + "000", REG, now=NOW)  # same layout: still fast
    assert rejected.value.code is ErrorCode.DECRYPTION_FAILED
    with pytest.raises(AssertionError, match="general path"):
        verifier.check(to_text(from_text(token) + b"\x00"), REG, now=NOW)  # trailing byte


@given(st.binary(max_size=200))
def test_any_envelope_bytes_same_outcome(data: bytes) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))
    for prefix in (b"", b"\xd0\x83", b"\xd0\x83\x49\xa2\x01\x0a\x04\x44" + keys.group_key.kid):
        same(verifier, to_text(prefix + data))


@given(st.binary(max_size=120))
def test_any_plaintext_same_outcome(data: bytes) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    sealer = Sealer(keys)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))
    prot = cose.encode_protected(-8, keys.signing_key.kid)
    for plaintext in (data, b"\xd2\x84" + cose.bstr_head(len(prot)) + prot + b"\xa0" + data):
        same(verifier, sealer.token_from_plaintext(plaintext))
    same(verifier, sealer.token(data))
