"""Structural mutations behind a valid AEAD layer are MALFORMED.

Each case is sealed with the real group key (so decryption succeeds) and,
where a signature is involved, signed with the real issuer key: only the
mutation named in the case is wrong, and it must be caught by the strict
inner parsing, before the signature and without any other error type.
"""

from __future__ import annotations

import cbor2
import pytest

from ecert_token import BusinessType, ErrorCode, TokenRejected, Verifier
from ecert_token.codec import cose
from ecert_token.keys.keydir import KeyDir, generate
from tests.conftest import NOW, running_verifier
from tests.core.forge import NONCE, claims_map, ecert_fields, seal, sign1

SETTLEMENT = BusinessType.HOSPITAL_SETTLEMENT
PAYLOAD = cbor2.dumps(claims_map())


@pytest.fixture
def strict_verifier(keys: KeyDir) -> Verifier:
    return running_verifier(keys.trust_store())


def _plain(keys: KeyDir, payload: bytes = PAYLOAD, **kw: object) -> bytes:
    return sign1(keys.signing_key, payload, **kw)  # type: ignore[arg-type]


def _sign1_cases(keys: KeyDir) -> dict[str, bytes]:
    kid = keys.signing_key.kid
    good = _plain(keys)
    parsed = cose.decode_sign1(good)
    ps, sig = parsed.protected, parsed.signature
    items = [ps, {}, PAYLOAD, sig]
    heads = b"".join(cbor2.dumps(x) for x in items)

    def signed_with(header: dict[object, object], unprotected: object = None) -> bytes:
        return _plain(keys, protected=cbor2.dumps(header), unprotected=unprotected)

    return {
        "empty plaintext": b"",
        "not CBOR": b"\xff\xff\xff",
        "only the tag": b"\xd2",
        "untagged Sign1": cbor2.dumps(items),
        "tag 17 (COSE_Mac0)": b"\xd1" + cbor2.dumps(items),
        "tag 98 (COSE_Sign)": cbor2.dumps(cbor2.CBORTag(98, items)),
        "tag 18 in two bytes": b"\xd8\x12" + cbor2.dumps(items),
        "Encrypt0 inside": b"\xd0" + cbor2.dumps([ps, {5: bytes(13)}, PAYLOAD]),
        "three items": b"\xd2" + cbor2.dumps(items[:3]),
        "five items": b"\xd2" + cbor2.dumps([*items, b""]),
        "a map": b"\xd2" + cbor2.dumps({1: ps}),
        "kid in unprotected": signed_with({1: -8}, {4: kid}),
        "kid in both headers": signed_with({1: -8, 4: kid}, {4: kid}),
        "alg in unprotected": signed_with({4: kid}, {1: -8}),
        "unknown crit": signed_with({1: -8, 2: [99], 4: kid, 99: 1}),
        "crit listing kid": signed_with({1: -8, 2: [4], 4: kid}),
        "extra protected label": signed_with({1: -8, 3: 0, 4: kid}),
        "text protected label": signed_with({1: -8, 4: kid, "alg": "EdDSA"}),
        "alg label as float": signed_with({1.0: -8, 4: kid}),
        "kid as text": signed_with({1: -8, 4: kid.hex()}),
        "alg as text": signed_with({1: "EdDSA", 4: kid}),
        "empty protected": b"\xd2" + cbor2.dumps([b"", {}, PAYLOAD, sig]),
        "protected as map": b"\xd2" + cbor2.dumps([{1: -8, 4: kid}, {}, PAYLOAD, sig]),
        "detached payload": b"\xd2" + cbor2.dumps([ps, {}, None, sig]),
        "payload as map": b"\xd2" + cbor2.dumps([ps, {}, claims_map(), sig]),
        "signature as text": b"\xd2" + cbor2.dumps([ps, {}, PAYLOAD, sig.hex()]),
        "trailing bytes": good + b"\x00",
        "indefinite array": b"\xd2\x9f" + heads + b"\xff",
        "over-long array head": b"\xd2\x98\x04" + heads,
        "nested too deep": b"\xd2" + cbor2.dumps([ps, {}, PAYLOAD, [[sig]]]),
        "self-describe tag first": b"\xd9\xd9\xf7" + good,
    }


def _claims_cases() -> dict[str, bytes]:
    dumps = cbor2.dumps
    good = dumps(claims_map())
    return {
        "iat float": dumps(claims_map(k6=float(NOW))),
        "exp nan": dumps(claims_map(k4=float("nan"))),
        "exp inf": dumps(claims_map(k4=float("inf"))),
        "iat -inf": dumps(claims_map(k6=float("-inf"))),
        "iat true": dumps(claims_map(k6=True)),
        "iat as epoch tag": dumps(claims_map(k6=cbor2.CBORTag(1, NOW))),
        "exp as bignum": dumps(claims_map(k4=cbor2.CBORTag(2, (NOW + 60).to_bytes(5, "big")))),
        "iat undefined": dumps(claims_map(k6=cbor2.undefined)),
        "iat text": dumps(claims_map(k6=str(NOW))),
        "unknown key": dumps({**claims_map(), 1: "NHSA"}),
        "nbf claim": dumps({**claims_map(), 5: NOW}),
        "missing cti": dumps({k: v for k, v in claims_map().items() if k != 7}),
        "actor null": dumps(claims_map(m65537=ecert_fields(f6=None))),
        "actor equals subject": dumps(claims_map(m65537=ecert_fields(f6="E4Q7ZK2M9PXA"))),
        "5 fields": dumps(claims_map(m65537=ecert_fields()[:5])),
        "8 fields": dumps(claims_map(m65537=[*ecert_fields(), "HOLDER0001", 1])),
        "region float": dumps(claims_map(m65537=ecert_fields(f0=110105.0))),
        "channel bool": dumps(claims_map(m65537=ecert_fields(f3=True))),
        "unmasked name": dumps(claims_map(m65537=ecert_fields(f4="张三丰"))),
        "key 4.0": dumps({(4.0 if k == 4 else k): v for k, v in claims_map().items()}),
        "key simple(2)": b"\xa5\xe2" + good[2:],
        "duplicate key": b"\xa6" + good[1:] + b"\x02\x61x",
        "indefinite map": b"\xbf" + good[1:] + b"\xff",
        "trailing bytes": good + b"\x00",
        "depth three": dumps(claims_map(m65537=ecert_fields(f4=["张*丰"]))),
        "not a map": dumps(list(claims_map().values())),
        "empty": b"",
    }


def test_harness_makes_valid_tokens(keys: KeyDir, strict_verifier: Verifier) -> None:
    """Unmutated, the hand-built token verifies: the cases below differ only by their mutation."""
    token = seal(keys.group_key, _plain(keys))
    assert strict_verifier.verify(token, SETTLEMENT).claims.credential_id == "E4Q7ZK2M9PXA"


SIGN1_NAMES = list(_sign1_cases(generate()))  # the names only; the keys are throwaway


@pytest.mark.parametrize("name", SIGN1_NAMES)
def test_sign1_mutation_is_malformed(keys: KeyDir, strict_verifier: Verifier, name: str) -> None:
    token = seal(keys.group_key, _sign1_cases(keys)[name])
    with pytest.raises(TokenRejected) as info:
        strict_verifier.verify(token, SETTLEMENT)
    assert info.value.code is ErrorCode.MALFORMED, str(info.value)


CLAIMS_CASES = _claims_cases()


@pytest.mark.parametrize("payload", CLAIMS_CASES.values(), ids=CLAIMS_CASES.keys())
def test_signed_claims_mutation_is_malformed(
    keys: KeyDir, strict_verifier: Verifier, payload: bytes
) -> None:
    token = seal(keys.group_key, _plain(keys, payload))
    with pytest.raises(TokenRejected) as info:
        strict_verifier.verify(token, SETTLEMENT)
    assert info.value.code is ErrorCode.MALFORMED, str(info.value)


def test_structure_is_checked_before_the_signature(
    keys: KeyDir, strict_verifier: Verifier
) -> None:
    """With a garbage signature, bad claims still say MALFORMED, good claims BAD_SIGNATURE."""
    ps = cose.encode_protected(-8, keys.signing_key.kid)
    for payload, code in ((CLAIMS_CASES["iat float"], ErrorCode.MALFORMED),
                          (PAYLOAD, ErrorCode.BAD_SIGNATURE)):
        token = seal(keys.group_key, cose.encode_sign1(ps, payload, bytes(64)))
        with pytest.raises(TokenRejected) as info:
            strict_verifier.verify(token, SETTLEMENT)
        assert info.value.code is code


def _envelope_cases(keys: KeyDir) -> dict[str, str]:
    """Encrypt0 headers varied around a real Sign1, each sealed with the real group key.

    The AEAD binds the protected header it is given, so every case decrypts
    correctly if the parser lets it through; only the header shape is wrong.
    """
    g = keys.group_key
    inner = _plain(keys)

    def sealed(protected: dict[object, object], unprotected: dict[object, object]) -> str:
        return seal(g, inner, protected=cbor2.dumps(protected), unprotected=unprotected)

    alg, kid = g.alg, g.kid
    return {
        "kid only in unprotected": sealed({1: alg}, {4: kid, 5: NONCE}),
        "kid in both headers": sealed({1: alg, 4: kid}, {4: kid, 5: NONCE}),
        "alg only in unprotected": sealed({4: kid}, {1: alg, 5: NONCE}),
        "unknown crit": sealed({1: alg, 2: [99], 4: kid, 99: 0}, {5: NONCE}),
        "crit in unprotected": sealed({1: alg, 4: kid}, {2: [99], 5: NONCE}),
        "extra protected label": sealed({1: alg, 3: 0, 4: kid}, {5: NONCE}),
        "iv in protected": sealed({1: alg, 4: kid, 5: NONCE}, {}),
        "partial iv too": sealed({1: alg, 4: kid}, {5: NONCE, 6: b"\x01"}),
        "alg label as float": sealed({1.0: alg, 4: kid}, {5: NONCE}),
        "iv label as float": sealed({1: alg, 4: kid}, {5.0: NONCE}),
        "alg as text": sealed({1: "A128CCM", 4: kid}, {5: NONCE}),
        "other algorithm": sealed({1: 1, 4: kid}, {5: NONCE}),
    }


ENVELOPE_NAMES = list(_envelope_cases(generate()))


@pytest.mark.parametrize("name", ENVELOPE_NAMES)
def test_envelope_header_mutation_is_malformed(
    keys: KeyDir, strict_verifier: Verifier, name: str
) -> None:
    token = _envelope_cases(keys)[name]
    with pytest.raises(TokenRejected) as info:
        strict_verifier.verify(token, SETTLEMENT)
    assert info.value.code is ErrorCode.MALFORMED, str(info.value)


def test_envelope_harness_makes_valid_tokens(keys: KeyDir, strict_verifier: Verifier) -> None:
    g = keys.group_key
    token = seal(g, _plain(keys), protected=cbor2.dumps({1: g.alg, 4: g.kid}),
                 unprotected={5: NONCE})
    assert strict_verifier.verify(token, SETTLEMENT)
