"""Presentations and credentials under tampering and random input: only TokenRejected, with
the right code; strict layouts; the fast payload reader agrees with the strict decoder."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecert_token import BusinessType, FixedClock, TokenRejected, TrustStore, VerifyPolicy
from ecert_token.codec import cbor
from ecert_token.codec.base45 import b45decode, b45encode
from ecert_token.errors import ErrorCode, InvalidArgument
from ecert_token.holder import PresentationVerifier, present
from ecert_token.holder.claims import (
    HolderClaims,
    HolderClaimsError,
    StatusRef,
    _fast_claims,
    decode_claims,
    encode_claims,
)
from ecert_token.holder.device import DevicePublicKey
from ecert_token.holder.presentation import (
    PresentationClaims,
    PresentationError,
    _fast_payload,
    decode_payload,
    encode_payload,
    parse,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.model import Channel, InsuranceType, Region
from ecert_token.registry import ActivationRegistry, HolderPlatform

from ..conftest import NOW
from .conftest import HOLDER, activation, device

REG = BusinessType.HOSPITAL_REGISTRATION


@pytest.fixture
def issued(platform: HolderPlatform) -> tuple[bytes, str]:
    phone = device(b"phone")
    blob = platform.activate(activation(HOLDER, phone)).file.sealed
    return blob, present(blob, phone, REG, now=NOW)


def _checker(trust: TrustStore) -> PresentationVerifier:
    return PresentationVerifier(trust, VerifyPolicy(), cache_size=0)


@pytest.mark.parametrize("sealed", [False, True])
def test_every_flipped_byte_is_refused(registry: ActivationRegistry, keys: KeyDir,
                                       sealed: bool) -> None:
    platform = HolderPlatform(registry, keys.signing_key, keys.group_key if sealed else None,
                              clock=FixedClock(NOW - 3600))
    phone = device(b"phone")
    text = present(platform.activate(activation(HOLDER, phone)).file.sealed, phone, REG,
                   now=NOW)
    data = b45decode(text[4:])
    checker = _checker(keys.trust_store())
    assert checker.check(text, REG, now=NOW).subject == HOLDER
    codes = set()
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x04
        with pytest.raises(TokenRejected) as info:
            checker.check("EP1:" + b45encode(bytes(tampered)), REG, now=NOW)
        codes.add(info.value.code)
    assert codes <= {ErrorCode.MALFORMED, ErrorCode.BAD_SIGNATURE, ErrorCode.UNKNOWN_KEY,
                     ErrorCode.WRONG_REGION, ErrorCode.EXPIRED, ErrorCode.NOT_YET_VALID,
                     ErrorCode.LIFETIME_TOO_LONG, ErrorCode.WRONG_BUSINESS_TYPE,
                     ErrorCode.KEY_NOT_VALID, ErrorCode.DECRYPTION_FAILED}
    assert ErrorCode.BAD_SIGNATURE in codes and ErrorCode.MALFORMED in codes


def test_credential_swapped_into_anothers_presentation(platform: HolderPlatform,
                                                      public_trust: TrustStore) -> None:
    """The device signature covers the credential (it is in the protected header)."""
    mine, thief = device(b"mine"), device(b"thief")
    my_blob = platform.activate(activation(HOLDER, mine)).file.sealed
    their_blob = platform.activate(activation("THIEF00001", thief)).file.sealed
    theirs = b45decode(present(their_blob, thief, REG, now=NOW)[4:])
    swapped = theirs.replace(their_blob, my_blob)
    with pytest.raises(TokenRejected) as info:
        _checker(public_trust).check("EP1:" + b45encode(swapped), REG, now=NOW)
    assert info.value.code in {ErrorCode.BAD_SIGNATURE, ErrorCode.MALFORMED}


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=700) | st.binary(max_size=450).map(lambda b: "EP1:" + b45encode(b)))
def test_random_text_is_only_ever_rejected(keys: KeyDir, text: str) -> None:
    try:
        _checker(keys.trust_store()).check(text, REG, now=NOW)
    except TokenRejected:
        return
    pytest.fail("random input accepted")


@settings(deadline=None, max_examples=200)
@given(st.integers(0x10000, 2**32 - 301), st.integers(10, 300), st.binary(min_size=8,
       max_size=8), st.sampled_from(list(BusinessType)),
       st.none() | st.binary(min_size=1, max_size=16))
def test_payload_round_trip_fast_and_strict(iat: int, ttl: int, cti: bytes, bt: BusinessType,
                                            challenge: bytes | None) -> None:
    pc = PresentationClaims(iat, iat + ttl, cti, bt, challenge)
    payload = encode_payload(pc)
    assert decode_payload(payload) == pc
    fast = _fast_payload(payload)
    assert fast is None or fast == (iat, iat + ttl, cti, bt, None)
    assert (fast is None) == (challenge is not None)


@pytest.mark.parametrize("value", [
    {4: 5, 6: 10, 7: b"12345678", -65540: 1101},          # exp before iat
    {4: 10, 6: 5, 7: b"1234567", -65540: 1101},           # short id
    {4: 10, 6: 1, 7: b"12345678", -65540: 9999},          # unknown business type
    {4: 10, 6: 1, 7: b"12345678", -65540: 1101, 1: 0},    # extra claim
    {4: 10, 6: 1, 7: b"12345678", -65540: "01101"},       # code as text
    {4: 10, 6: 1, 7: b"12345678", -65540: 1101, 39: b""},  # empty challenge
    [4, 10],
])
def test_strict_payload(value: object) -> None:
    with pytest.raises(PresentationError):
        decode_payload(cbor.dumps(value))


def test_parse_refuses_other_layouts(issued: tuple[bytes, str]) -> None:
    _, text = issued
    assert parse(text).claims.business_type is REG
    data = b45decode(text[4:])
    for bad in ("EC1:" + text[4:], text[:-3], "EP1:" + b45encode(data + b"\x00"),
                "EP1:" + b45encode(data[:1] + b"\x83" + data[2:]), "x" * 601, 5):
        with pytest.raises(PresentationError):
            parse(bad)  # type: ignore[arg-type]
    assert parse(text.encode()).sealed == parse(text).sealed


def _claims(**changes: object) -> HolderClaims:
    fields: dict[str, object] = dict(
        credential_id=HOLDER, issued_at=NOW, expires_at=NOW + 86_400,
        device_key=DevicePublicKey.unchecked_ed25519(bytes(32)),
        status=StatusRef(None, 7), region=Region("110105"),
        insurance_type=InsuranceType.EMPLOYEE_BASIC, channel=Channel.WECHAT,
        masked_name="张*丰")
    fields.update(changes)
    return HolderClaims(**fields)  # type: ignore[arg-type]


_URIS = st.none() | st.sampled_from(["ec:NHSA", "ec:NHSA/44", "https://x.example/l"])
"""None: the compact status reference (version 2); a URI: the draft's claim (version 1)."""


@settings(deadline=None, max_examples=200)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["110105", "310101", "619900"]),
       st.sampled_from(list(InsuranceType)), st.none() | st.just("ACTOR00001"), _URIS)
def test_claims_round_trip(idx: int, region: str, insurance: InsuranceType,
                           actor: str | None, uri: str | None) -> None:
    claims = _claims(status=StatusRef(uri, idx), region=Region(region),
                     insurance_type=insurance, actor_id=actor)
    data = encode_claims(claims)
    assert decode_claims(data) == claims
    assert _fast_claims(data) == claims  # the canonical layout takes the fast reader
    value = cbor.loads(data, max_depth=4)
    assert isinstance(value, dict)
    if uri is None:  # version 2: the index ends the holder array, no status claim
        assert 65535 not in value and value[-65538][5] == idx and len(value[-65538]) == 6
    else:
        assert value[65535] == {"status_list": {"idx": idx, "uri": uri}}
        assert len(value[-65538]) == 5


def test_compact_reference_is_33_bytes_shorter_at_a_province_scale() -> None:
    idx = 40_000_000  # a 2^26 list's index: 5 CBOR bytes either way
    v1 = encode_claims(_claims(status=StatusRef("ec:NHSA", idx)))
    v2 = encode_claims(_claims(status=StatusRef(None, idx)))
    assert len(v1) - len(v2) == 33


@settings(deadline=None, max_examples=300)
@given(st.data())
def test_fast_claims_reader_agrees_with_the_strict_decoder(data: st.DataObject) -> None:
    """Any change to canonical claims bytes: the fast reader answers what the strict
    decoder answers, or None (and then the strict decoder decides)."""
    raw = bytearray(encode_claims(_claims(
        actor_id=data.draw(st.none() | st.just("ACTOR00001")),
        status=StatusRef(data.draw(_URIS), data.draw(st.integers(0, 2**32 - 1))))))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    fast = _fast_claims(bytes(raw))
    try:
        strict = _strict_claims(bytes(raw))
    except HolderClaimsError:
        assert fast is None
        return
    assert fast is None or fast == strict


def _strict_claims(data: bytes) -> HolderClaims:
    import ecert_token.holder.claims as module

    saved = module._fast_claims
    module._fast_claims = lambda _data: None  # type: ignore[assignment]
    try:
        return decode_claims(data)
    finally:
        module._fast_claims = saved


@pytest.mark.parametrize("change", [
    lambda m: m.update({2: "bad id!"}),
    lambda m: m.update({8: {1: {1: 1, -1: 4, -2: bytes(32)}}}),     # X25519, not Ed25519
    lambda m: m.update({8: {1: {1: 1, -1: 6, -2: bytes(31)}}}),
    lambda m: m.update({8: {True: m[8][1]}}),                        # cnf label true for 1
    # version 2: the index ends a six-item holder array
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, -1]}),
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, 2**32]}),
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, b"\x07"]}),
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, True]}),
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1]}),       # no index, no status
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, 7, 7]}),
    # both versions at once, or version 1's claim with version 2's array
    lambda m: m.update({65535: {"status_list": {"idx": 7, "uri": "ec:NHSA"}}}),
    lambda m: m.update({-65538: [110105, 310, 2, "张三丰", 1, 7]}),   # unmasked name
    lambda m: m.update({-65538: [100000, 310, 2, "张*丰", 1, 7]}),    # unknown province
    lambda m: m.update({-65538: [110105, 311, 2, "张*丰", 1, 7]}),
    lambda m: m.update({-65539: HOLDER}),                            # actor == subject
    lambda m: m.update({1: "iss"}),
    lambda m: m.pop(4),
    lambda m: m.update({4: NOW - 1}),
])
def test_strict_claims(change: object) -> None:
    value = cbor.loads(encode_claims(_claims()), max_depth=4)
    assert isinstance(value, dict)
    change(value)  # type: ignore[operator]
    with pytest.raises(HolderClaimsError):
        decode_claims(cbor.dumps(value))


@pytest.mark.parametrize("change", [
    lambda m: m.update({65535: {"status_list": {"idx": -1, "uri": "ec:NHSA"}}}),
    lambda m: m.update({65535: {"status_list": {"idx": 1}}}),
    lambda m: m.update({65535: {"status_list": {"idx": 1, "uri": "nouri"}}}),
    lambda m: m.update({65535: {"status_list": {"idx": 1, "uri": None}}}),
    lambda m: m.update({65535: {"status_list": {"idx": 1, "uri": "ec:NHSA"}, "x": 1}}),
    lambda m: m.update({-65538: [110105, 310, 2, "张*丰", 1, 7]}),    # with a version-1 claim
    lambda m: m.pop(65535),                                          # five items, no claim
])
def test_strict_version_1_claims(change: object) -> None:
    """Version 1 (the draft's status claim) is still read, as strictly as before."""
    value = cbor.loads(encode_claims(_claims(status=StatusRef("ec:NHSA", 7))), max_depth=4)
    assert isinstance(value, dict)
    assert decode_claims(cbor.dumps(value)).status == StatusRef("ec:NHSA", 7)
    change(value)  # type: ignore[operator]
    with pytest.raises(HolderClaimsError):
        decode_claims(cbor.dumps(value))


def test_claims_arguments() -> None:
    with pytest.raises(InvalidArgument):
        _claims(expires_at=NOW)
    with pytest.raises(InvalidArgument):
        _claims(actor_id=HOLDER)
    with pytest.raises(InvalidArgument):
        StatusRef("ec:NHSA", 2**32)
    with pytest.raises(InvalidArgument):
        present(b"\xd2", device(b"d"), REG, now=NOW, ttl=5)
    with pytest.raises(InvalidArgument):
        present(b"\xd2", device(b"d"), REG, now=NOW, challenge=b"")


def test_repr_leaks_no_personal_data() -> None:
    text = repr(_claims(actor_id="ACTOR00001"))
    assert HOLDER not in text and "张" not in text and "ACTOR00001" not in text


def test_keys_fixture_is_shared(keys: KeyDir) -> None:
    assert keys.signing_key.issuer == "NHSA"


def _split_both(text: object) -> tuple[object, object]:
    """``split`` with the extension's Base45 decoder and with the Python one: each answer
    is the result tuple or the error's text."""
    import ecert_token.holder.presentation as module
    from ecert_token.codec import base45
    from ecert_token.holder.presentation import split

    answers: list[object] = []
    saved = module._b45decode
    for decoder in (saved, base45.b45decode):
        module._b45decode = decoder
        try:
            answers.append(split(text))  # type: ignore[arg-type]
        except PresentationError as exc:
            answers.append(str(exc))
        finally:
            module._b45decode = saved
    return answers[0], answers[1]


@settings(deadline=None, max_examples=300,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # issued: read only
@given(st.data())
def test_split_gives_the_same_answer_with_either_base45_decoder(
        issued: tuple[bytes, str], data: st.DataObject) -> None:
    """The presentation reader takes the compiled Base45 decoder where it is built; every
    answer, and every refusal, is the Python decoder's."""
    _, text = issued
    chars = list(text)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(4, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from("0123456789ABCXYZ $%*+-./:a\u00e9:"))
    cut = data.draw(st.integers(len(chars) - 4, len(chars)))
    with_compiled, python = _split_both("".join(chars[:cut]))
    assert with_compiled == python


def test_split_refuses_bad_base45_with_either_decoder(issued: tuple[bytes, str]) -> None:
    from ecert_token import _speedups

    _, text = issued
    if _speedups.extension is None:
        pytest.skip("the extension is not built")  # (CI builds it: ECERT_REQUIRE_SPEEDUPS)
    # A body whose length is 1 modulo 3 is never Base45, whatever the text's own length.
    odd = text + "0" * ((1 - len(text[4:])) % 3 or 3)
    for bad in (text[:-1] + "a", odd, "EP1:GGW", text[:5] + "\u00e9" + text[6:]):
        assert _split_both(bad) == ("not Base45", "not Base45")


def test_replay_scope_names_the_issuers_list_for_a_compact_reference() -> None:
    from ecert_token.holder.verify import replay_scope

    compact, named = _claims(status=StatusRef(None, 7)), _claims(status=StatusRef("ec:NHSA", 7))
    assert replay_scope(compact, "NHSA") != replay_scope(compact, "NHSA-44")
    assert replay_scope(named, "NHSA") == replay_scope(named, "NHSA-44")  # the URI names it
    assert replay_scope(compact, "NHSA") != replay_scope(named, "NHSA")
    assert len(replay_scope(compact, "NHSA")) == 8


def test_the_protected_header_layouts(issued: tuple[bytes, str]) -> None:
    """``{13: credential}`` (the algorithm is the cnf key's) and the earlier
    ``{1: -8 or -65537, 13: ...}`` are read; any other header is malformed."""
    blob, text = issued
    assert parse(text).alg is None and parse(text).sealed == blob
    phone = device(b"phone")
    assert parse(present(blob, phone, REG, now=NOW, name_alg=True)).alg == -8
    data = b45decode(text[4:])
    assert data[2:6] == b"\x58" + bytes((len(blob) + 2,)) + b"\xa1\x0d"
    for header in (b"\xa1\x0c", b"\xa2\x01\x26\x0d", b"\xa2\x01\x27\x0e", b"\xa1\x01",
                   b"\xa2\x04\x27\x0d"):
        body = header + blob
        changed = data[:2] + b"\x58" + bytes((len(body),)) + body + data[4 + len(blob) + 2:]
        with pytest.raises(PresentationError):
            parse("EP1:" + b45encode(changed))
    empty = data[:2] + b"\x42\xa1\x0d" + data[4 + len(blob) + 2:]  # {13: } with nothing
    with pytest.raises(PresentationError):
        parse("EP1:" + b45encode(empty))
