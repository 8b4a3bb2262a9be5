"""The pipeline (token/verify.py) on both implementations, against an oracle.

Every test here runs twice (the ``impl`` fixture): with the Python stages
only, and with the compiled accelerator.  ``same`` also runs the token
through the other implementation and through ``reference.check`` (an
independent composition of the strict decoders), and the outcomes (the
VerifiedToken, or the error code and message) must be identical: the
accelerator answers exactly what the pipeline answers, or leaves the token
to it.
"""

from __future__ import annotations

import random

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    EcertError,
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
from ecert_token.codec.cwt import decode_claims
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.material import IssuerVerifyKey
from ecert_token.token import verify as pipeline_module
from ecert_token.token.text import from_text, to_text

from ..conftest import NOW, Impl, running_store
from . import reference
from .conftest import Sealer, canonical, claims_map

REG = BusinessType.HOSPITAL_REGISTRATION


def same(verifier: Verifier, token: str | bytes, business: BusinessType = REG,
         now: int = NOW) -> tuple[str, object]:
    """The outcome of ``verifier.check``, which must be the reference's and the other
    implementation's."""
    here = reference.outcome(lambda t, b, n: verifier.check(t, b, now=n), token, business, now)
    saved = pipeline_module._accelerator
    pipeline_module._accelerator = None
    try:
        python = reference.outcome(lambda t, b, n: verifier.check(t, b, now=n), token, business,
                                   now)
    finally:
        pipeline_module._accelerator = saved
    oracle = reference.outcome(
        lambda t, b, n: reference.check(verifier, t, b, n), token, business, now
    )
    assert here == python == oracle
    return here


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


def test_claims_mutated_byte_by_byte_through_the_verifier(sealer: Sealer,
                                                          verifier: Verifier) -> None:
    """Every position of a claims payload (and the cuts of it), signed and sealed: the
    accelerator's layout reader and the Python decoder agree on each."""
    rnd = random.Random(7)
    for value in VALID_CLAIMS[:2]:
        payload = canonical(value)
        for i in range(len(payload)):
            for b in {0x00, 0x18, 0x1A, 0x60, 0xFF, rnd.randrange(256), payload[i] ^ 1}:
                same(verifier, sealer.token(payload[:i] + bytes([b]) + payload[i + 1:]))
            same(verifier, sealer.token(payload[:i] + payload[i + 1:]))


def test_claims_are_ordinary_frozen_claims(sealer: Sealer, verifier: Verifier) -> None:
    from dataclasses import FrozenInstanceError

    claims = verifier.check(sealer.token(canonical(VALID_CLAIMS[1])), REG, now=NOW).claims
    general = decode_claims(canonical(VALID_CLAIMS[1]))
    assert type(claims) is type(general)
    assert claims == general and hash(claims) == hash(general) and repr(claims) == repr(general)
    with pytest.raises(FrozenInstanceError):
        claims.token_id = b"x" * 8  # type: ignore[misc]


# --- COSE envelopes ------------------------------------------------------

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
@settings(deadline=None)
def test_masked_name_rule_matches_the_model(name: str) -> None:
    from ecert_token.keys.keydir import generate
    from ecert_token.model.credential import validate_masked_name

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"names"))
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))
    value = claims_map({-65537: [110105, 310, 1101, 2, name, 1]})
    kind, _ = same(verifier, Sealer(keys).token(canonical(value)))
    try:
        validate_masked_name(name)
        valid = True
    except EcertError:
        valid = False
    assert (kind == "ok") == valid


def test_tokens_from_the_issuer_are_the_accelerators(
    token: str, verifier: Verifier, monkeypatch: pytest.MonkeyPatch, impl: Impl
) -> None:
    """What the Issuer writes never reaches the Python stages 2 to 8 when the
    accelerator is on (so the benchmark measures it); they still answer for
    anything else."""
    if not impl.accelerated:
        pytest.skip("about the accelerator")
    import ecert_token.codec.cose as cose_module

    def refuse(*_args: object) -> object:
        raise AssertionError("general path used")

    monkeypatch.setattr(cose_module, "decode_encrypt0", refuse)
    monkeypatch.setattr(cose_module, "decode_sign1", refuse)
    monkeypatch.setattr(cose_module, "sign1_envelope", refuse)
    monkeypatch.setattr(pipeline_module, "read_claims", refuse)
    monkeypatch.setattr(pipeline_module, "b45decode", refuse)
    assert verifier.verify(token, REG).claims.credential_id == "E4Q7ZK2M9PXA"
    with pytest.raises(TokenRejected) as rejected:
        verifier.check(token[:-3] + "000", REG, now=NOW)  # same layout: the accelerator's
    assert rejected.value.code is ErrorCode.DECRYPTION_FAILED
    with pytest.raises(AssertionError, match="general path"):
        verifier.check(to_text(from_text(token) + b"\x00"), REG, now=NOW)  # trailing byte


@pytest.mark.parametrize("size", range(9))
def test_a_ciphertext_no_longer_than_the_tag_is_a_decryption_failure(
    token: str, verifier: Verifier, size: int
) -> None:
    """Shorter than the 8-byte tag (refused before the AEAD, in the accelerator too)
    or the tag alone: decryption_failed, as for any ciphertext the key refuses."""
    envelope = cose.decode_encrypt0(from_text(token))
    short = cose.encode_encrypt0(envelope.protected, envelope.iv, envelope.ciphertext[:size])
    with pytest.raises(TokenRejected) as rejected:
        verifier.check(to_text(short), REG, now=NOW)
    assert rejected.value.code is ErrorCode.DECRYPTION_FAILED


def test_the_accelerator_catches_the_aeads_refusal(verifier: Verifier, token: str) -> None:
    """An AES-CCM group route opens with the extension's CCM key (in C, no Python
    call), or without the extension with the library's raw decrypt, which raises
    InvalidTag for a tampered ciphertext; either way the answer is decryption_failed
    and no exception is left set (the next verification succeeds)."""
    from ecert_token import _speedups

    routes = verifier.trust.routes()
    assert routes is not None
    for route in routes.groups.values():
        if _speedups.extension is not None:
            assert type(route.open) is _speedups.extension.CcmKey
        else:
            assert route.open == route.key.aead.raw_decrypt
    raw = bytearray(from_text(token))
    raw[-1] ^= 1
    for _ in range(3):
        with pytest.raises(TokenRejected) as rejected:
            verifier.check(to_text(bytes(raw)), REG, now=NOW)
        assert rejected.value.code is ErrorCode.DECRYPTION_FAILED
    assert verifier.verify(token, REG, now=NOW).claims.credential_id == "E4Q7ZK2M9PXA"


def test_the_accelerators_two_ways_to_open_agree(verifier: Verifier, token: str,
                                                 impl: Impl) -> None:
    """The accelerator opens with its own CCM key, or calls the route's opener (the raw
    decrypt: SM4-GCM's way, and every key's without a native one): the same answer
    for the token and for each byte of it flipped."""
    if not impl.accelerated:
        pytest.skip("about the accelerator")
    accelerator = pipeline_module._accelerator
    routes = verifier.trust.routes()
    assert accelerator is not None and routes is not None
    called = {kid: r._replace(open=r.key.aead.raw_decrypt) for kid, r in routes.groups.items()}
    policy = verifier.policy
    raw = from_text(token)
    bodies = [token[4:]]
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x10
        bodies.append(to_text(bytes(flipped))[4:])
    for body in bodies:
        native = accelerator(body, routes.groups, routes.issuers, NOW, policy.leeway,
                             policy.max_lifetime)
        python = accelerator(body, called, routes.issuers, NOW, policy.leeway,
                             policy.max_lifetime)
        assert native == python


@given(st.binary(max_size=200))
@settings(deadline=None)
def test_any_envelope_bytes_same_outcome(data: bytes) -> None:
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    keys = generate(random_bytes=deterministic_random(b"fuzz"))
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))
    for prefix in (b"", b"\xd0\x83", b"\xd0\x83\x49\xa2\x01\x0a\x04\x44" + keys.group_key.kid):
        same(verifier, to_text(prefix + data))


@given(st.binary(max_size=120))
@settings(deadline=None)
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


# --- hypothesis: claims maps, mutations, envelopes (from the red-team suite) ---

_FUZZ_KEYS: list[KeyDir] = []


def _fuzz() -> tuple[Sealer, Verifier]:
    """One key set for the generated cases (building keys per example is slow)."""
    from ecert_token.keys.keydir import generate

    from ..conftest import deterministic_random

    if not _FUZZ_KEYS:
        _FUZZ_KEYS.append(generate(random_bytes=deterministic_random(b"fuzz")))
    keys = _FUZZ_KEYS[0]
    return Sealer(keys), Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW))


_TEXTS = ["E4Q7ZK2M9PXA", "K8D2WQ5T7RNB", "abcde", "abcdef", "a" * 32, "a" * 33, "a" * 24,
          "x" * 300, "", "ab\u00e9def", "ABCDEF\n", "张*丰", "张*", "*", "a*b", "a*bc", "12*",
          "1234*", " *", "*" * 16, "*" * 17, "\uff11\uff12*", "a\u200b*", "a*\x00", "abc-_9"]
_INTS = [0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**40 - 1, 2**40, 2**64 - 1,
         -1, -(2**64), 110105, 990000, 991234, 100000, 99999, 1000000, 310, 390, 1301, 1101,
         2121, 2, 5, 6, 8, 9, NOW, NOW + 60, NOW + 300]
_values = st.one_of(
    st.sampled_from(_INTS), st.sampled_from(_TEXTS), st.integers(),
    st.binary(max_size=24), st.sampled_from([None, True, False, 1.0, [], {}]),
)


@st.composite
def claims_maps(draw: st.DrawFn) -> dict[object, object]:
    fields: list[object] = [110105, 310, 1301, 2, "张*丰", 1]
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from(["K8D2WQ5T7RNB", "E4Q7ZK2M9PXA", "abc", "a" * 40])))
    claims: dict[object, object] = {2: "E4Q7ZK2M9PXA", 4: NOW + 60, 6: NOW, 7: bytes(range(8))}
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            fields[draw(st.integers(0, len(fields) - 1))] = draw(_values)
        else:
            claims[draw(st.sampled_from([2, 4, 6, 7]))] = draw(_values)
    if draw(st.integers(0, 19)) == 0:
        del claims[draw(st.sampled_from([2, 4, 6, 7]))]
    if draw(st.integers(0, 19)) == 0:
        claims[draw(st.sampled_from([1, 3, 5, 8, -65536]))] = 1
    claims[-65537] = fields
    return claims


@st.composite
def mutations(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.integers(0, 2))
        if kind == 0 and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == 1:
            data[where:where] = bytes([draw(st.integers(0, 255))])
        elif data:
            del data[where]
    return bytes(data)


@given(claims_maps(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_any_claims_map(claims: dict[object, object], canonical_form: bool) -> None:
    sealer, verifier = _fuzz()
    same(verifier, sealer.token(cbor2.dumps(claims, canonical=canonical_form)))


_CANONICAL = canonical(claims_map({-65537: [110105, 310, 1301, 2, "张*丰", 1, "K8D2WQ5T"]}))


@given(mutations(_CANONICAL))
@settings(max_examples=300, deadline=None)
def test_mutated_canonical_claims(payload: bytes) -> None:
    sealer, verifier = _fuzz()
    same(verifier, sealer.token(payload))


@given(st.text(max_size=9), st.binary(min_size=8, max_size=16))
@settings(deadline=None)
def test_any_name_and_token_id(name: str, cti: bytes) -> None:
    sealer, verifier = _fuzz()
    same(verifier, sealer.token(canonical(
        claims_map({7: cti, -65537: [110105, 310, 1101, 2, name, 1]}))))


@given(st.text(alphabet="AZaz09_-\u00e9*", min_size=0, max_size=40),
       st.one_of(st.none(), st.text(alphabet="AZ09_-", max_size=34)),
       st.text(alphabet="*\u5f20\u4e09 ", min_size=0, max_size=20))
@settings(deadline=None)
def test_ids_actors_and_names_of_any_length(sub: str, actor: str | None, name: str) -> None:
    sealer, verifier = _fuzz()
    fields: list[object] = [110105, 310, 1101, 2, name, 1]
    if actor is not None:
        fields.append(actor)
    same(verifier, sealer.token(canonical(claims_map({2: sub, -65537: fields}))))


def test_every_single_byte_of_the_signed_envelope(sealer: Sealer, verifier: Verifier) -> None:
    plaintext = sealer.sign1(canonical(claims_map()))
    rnd = random.Random(5)
    for i in range(len(plaintext)):
        for b in {0x00, 0x17, 0x18, 0x1A, 0x3A, 0x40, 0x58, 0x60, 0x86, 0xA0, 0xFF,
                  rnd.randrange(256)}:
            same(verifier, sealer.token_from_plaintext(plaintext[:i] + bytes([b])
                                                       + plaintext[i + 1:]))


def test_truncations_and_extensions(sealer: Sealer, verifier: Verifier) -> None:
    plaintext = sealer.sign1(canonical(claims_map()))
    envelope = sealer.encrypt0(plaintext)
    for i in range(len(plaintext) + 1):
        same(verifier, sealer.token_from_plaintext(plaintext[:i]))
        same(verifier, sealer.token_from_plaintext(plaintext[:i] + b"\x00" + plaintext[i:]))
    for i in range(len(envelope) + 1):
        same(verifier, to_text(envelope[:i]))
        same(verifier, to_text(envelope[:i] + b"\x00" + envelope[i:]))


@given(st.sampled_from([10, -8, 0, 23, 24, -24, -25, 3]), st.binary(min_size=1, max_size=17),
       st.binary(min_size=12, max_size=14), st.sampled_from([0, 8, 23, 24, 255, 256, 300]))
@settings(deadline=None)
def test_any_envelope_heading(alg: int, kid: bytes, iv: bytes, body: int) -> None:
    _, verifier = _fuzz()
    protected = cbor2.dumps({1: alg, 4: kid}, canonical=True)
    same(verifier, to_text(cose.encode_encrypt0(protected, iv, bytes(body))))
