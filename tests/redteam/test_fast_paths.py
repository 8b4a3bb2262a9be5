"""Differential tests: every fast path gives exactly the answer (or the error) of the
general strict decoder it stands in for, on canonical, non-canonical and mutated input.

A divergence is a way to make a terminal see other claims than the general reader
would, or accept bytes it refuses."""

from __future__ import annotations

from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.codec import cose
from ecert_token.codec.cose import COSEError
from ecert_token.codec.cwt import ClaimsError, decode_claims, decode_claims_fast

TEXTS = ["E4Q7ZK2M9PXA", "K8D2WQ5T7RNB", "abcde", "abcdef", "a" * 32, "a" * 33, "a" * 24,
         "x" * 300, "", "ab\u00e9def", "ABCDEF\n", "张*丰", "张*", "*", "a*b", "a*bc", "12*",
         "1234*", " *", "*" * 16, "*" * 17, "\uff11\uff12*", "a\u200b*", "a*\x00", "abc-_9"]
INTS = [0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**40 - 1, 2**40, 2**64 - 1,
        -1, -(2**64), 110105, 990000, 991234, 100000, 99999, 1000000, 310, 390, 1301, 1101,
        2121, 2, 5, 6, 8, 9, 1_790_000_000, 1_790_000_060, 1_790_000_300]

values = st.one_of(
    st.sampled_from(INTS), st.sampled_from(TEXTS), st.integers(),
    st.binary(max_size=24), st.sampled_from([None, True, False, 1.0, [], {}]),
)


@st.composite
def claims_maps(draw: st.DrawFn) -> dict[Any, Any]:
    fields: list[object] = [110105, 310, 1301, 2, "张*丰", 1]
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from(["K8D2WQ5T7RNB", "E4Q7ZK2M9PXA", "abc", "a" * 40])))
    claims: dict[Any, Any] = {2: "E4Q7ZK2M9PXA", 4: 1_790_000_060, 6: 1_790_000_000,
                              7: bytes(range(8))}
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            fields[draw(st.integers(0, len(fields) - 1))] = draw(values)
        else:
            claims[draw(st.sampled_from([2, 4, 6, 7]))] = draw(values)
    if draw(st.integers(0, 19)) == 0:
        del claims[draw(st.sampled_from([2, 4, 6, 7]))]
    if draw(st.integers(0, 19)) == 0:
        claims[draw(st.sampled_from([1, 3, 5, 8, -65536]))] = 1
    claims[-65537] = fields
    return claims


def outcome(decode: Any, data: bytes) -> tuple[str, object]:
    try:
        return "ok", decode(data)
    except (ClaimsError, COSEError) as exc:
        return "error", str(exc)


@given(claims_maps(), st.booleans())
@settings(max_examples=600, deadline=None)
def test_fast_claims_decoder_agrees_with_the_general_one(
    claims: dict[Any, Any], canonical: bool
) -> None:
    payload = cbor2.dumps(claims, canonical=canonical)
    assert outcome(decode_claims_fast, payload) == outcome(decode_claims, payload)


CANONICAL = cbor2.dumps(
    {2: "E4Q7ZK2M9PXA", 4: 1_790_000_060, 6: 1_790_000_000, 7: bytes(range(8)),
     -65537: [110105, 310, 1301, 2, "张*丰", 1, "K8D2WQ5T"]},
    canonical=True,
)


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


@given(mutations(CANONICAL))
@settings(max_examples=800, deadline=None)
def test_fast_claims_decoder_agrees_on_mutated_canonical_payloads(payload: bytes) -> None:
    assert outcome(decode_claims_fast, payload) == outcome(decode_claims, payload)


def _decoded_encrypt0(data: bytes) -> tuple[object, ...]:
    e = cose.decode_encrypt0(data)
    return (e.protected, e.header.alg, e.header.kid, e.iv, e.ciphertext,
            cose.enc_structure(e.protected))


def _decoded_sign1(data: bytes) -> tuple[object, ...]:
    s = cose.decode_sign1(data)
    return (s.protected, s.header.alg, s.header.kid, s.payload, s.signature,
            cose.sig_structure(s.protected, s.payload))


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[bool, bytes]:
    alg = draw(st.sampled_from([10, -8, 0, 23, 24, -24, -25, 3]))
    kid = draw(st.binary(min_size=1, max_size=17))
    protected = cbor2.dumps({1: alg, 4: kid}, canonical=True)
    encrypt = draw(st.booleans())
    if encrypt:
        iv = draw(st.binary(min_size=12, max_size=14))
        body = draw(st.sampled_from([0, 8, 23, 24, 255, 256, 300]))
        data = cose.encode_encrypt0(protected, iv, bytes(body))
    else:
        payload = bytes(draw(st.sampled_from([0, 23, 24, 120, 255, 256, 300])))
        signature = bytes(draw(st.sampled_from([63, 64, 65])))
        data = cose.encode_sign1(protected, payload, signature)
    if draw(st.integers(0, 4)):
        data = draw(mutations(data))
    return encrypt, data


@given(envelopes())
@settings(max_examples=1000, deadline=None)
def test_fast_cose_splitters_agree_with_the_strict_decoders(case: tuple[bool, bytes]) -> None:
    encrypt, data = case
    if encrypt:
        assert outcome(cose.split_encrypt0, data) == outcome(_decoded_encrypt0, data)
    else:
        assert outcome(cose.split_sign1, data) == outcome(_decoded_sign1, data)
