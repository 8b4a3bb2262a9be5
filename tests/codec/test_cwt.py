"""CWT claims: integer keys, one private claim, exact types, validated values."""

from __future__ import annotations

from collections.abc import Callable

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import BusinessType, Channel, InsuranceType, Region, SubjectKind, TokenClaims
from ecert_token.codec import cbor
from ecert_token.codec.cbor import CBORError
from ecert_token.codec.cwt import (
    CTI,
    ECERT,
    EXP,
    IAT,
    SUB,
    ClaimsError,
    ClaimsFields,
    decode_claims,
    encode_claims,
    read_claims,
)
from tests.conftest import NOW
from tests.core.forge import TOKEN_ID as TID
from tests.core.forge import claims_map as _map
from tests.core.forge import ecert_fields as _fields

from .not_well_formed import DATA, IDS, claims_prefix


def _claims(actor: str | None = None) -> TokenClaims:
    return TokenClaims(
        token_id=TID,
        issued_at=NOW,
        expires_at=NOW + 60,
        credential_id="E4Q7ZK2M9PXA",
        subject_kind=SubjectKind.INSURED_PERSON,
        region=Region("110105"),
        insurance_type=InsuranceType.EMPLOYEE_BASIC,
        masked_name="张*丰",
        business_type=BusinessType.HOSPITAL_SETTLEMENT,
        channel=Channel.WECHAT,
        actor_id=actor,
    )


@pytest.mark.parametrize("actor", [None, "HOLDER0001"])
def test_round_trip(actor: str | None) -> None:
    claims = _claims(actor)
    payload = encode_claims(claims)
    assert decode_claims(payload) == claims
    assert cbor2.loads(payload)[ECERT][2] == 1301


def test_wire_layout() -> None:
    assert cbor2.loads(encode_claims(_claims())) == _map()
    assert cbor2.loads(encode_claims(_claims("HOLDER0001")))[ECERT][6] == "HOLDER0001"
    assert decode_claims(cbor2.dumps(_map())) == _claims()


BAD_MAPS = {
    # times: not integers, not finite, bools, out of range
    "iat float": _map(k6=float(NOW)),
    "iat nan": _map(k6=float("nan")),
    "exp inf": _map(k4=float("inf")),
    "exp -inf": _map(k4=float("-inf")),
    "iat true": _map(k6=True),
    "exp false": _map(k4=False),
    "iat text": _map(k6=str(NOW)),
    "iat null": _map(k6=None),
    "iat negative": _map(k6=-1),
    "exp 2**64-1": _map(k4=2**64 - 1),
    "exp before iat": _map(k4=NOW - 1),
    "exp equals iat": _map(k4=NOW),
    # keys
    "issuer claim": {**_map(), 1: "NHSA"},
    "audience claim": {**_map(), 3: "x"},
    "nbf claim": {**_map(), 5: NOW},
    "text key": {**_map(), "sub": "x"},
    "missing sub": {k: v for k, v in _map().items() if k != SUB},
    "missing cti": {k: v for k, v in _map().items() if k != CTI},
    "missing ecert": {k: v for k, v in _map().items() if k != ECERT},
    "sub key as float": {(2.0 if k == SUB else k): v for k, v in _map().items()},
    "exp key as float": {(4.0 if k == EXP else k): v for k, v in _map().items()},
    # subject and token id
    "sub int": _map(k2=12345678),
    "sub bytes": _map(k2=b"E4Q7ZK2M9PXA"),
    "sub with space": _map(k2="E4Q7 ZK2M9PXA"),
    "cti 7 bytes": _map(k7=bytes(7)),
    "cti 17 bytes": _map(k7=bytes(17)),
    "cti text": _map(k7="01234567"),
    # the e-certificate array
    "fields as map": _map(m65537={0: 110105}),
    "fields null": _map(m65537=None),
    "5 fields": _map(m65537=_fields()[:5]),
    "8 fields": _map(m65537=[*_fields(), "HOLDER0001", 0]),
    "actor null": _map(m65537=_fields(f6=None)),
    "actor int": _map(m65537=_fields(f6=1)),
    "actor is subject": _map(m65537=_fields(f6="E4Q7ZK2M9PXA")),
    "actor bad id": _map(m65537=_fields(f6="no!")),
    "region text": _map(m65537=_fields(f0="110105")),
    "region unknown province": _map(m65537=_fields(f0=100105)),
    "region 5 digits": _map(m65537=_fields(f0=11010)),
    "region float": _map(m65537=_fields(f0=110105.0)),
    "region true": _map(m65537=_fields(f0=True)),
    "insurance unknown": _map(m65537=_fields(f1=311)),
    "insurance text": _map(m65537=_fields(f1="310")),
    "business unknown": _map(m65537=_fields(f2=1100)),
    "business negative": _map(m65537=_fields(f2=-1301)),
    "channel zero": _map(m65537=_fields(f3=0)),
    "channel true": _map(m65537=_fields(f3=True)),
    "channel nan": _map(m65537=_fields(f3=float("nan"))),
    "masked name unmasked": _map(m65537=_fields(f4="张三丰")),
    "masked name bytes": _map(m65537=_fields(f4="张*丰".encode())),
    "subject kind unknown": _map(m65537=_fields(f5=9)),
    "nested too deep": _map(m65537=_fields(f4=["张*丰"])),
    # not a map
    "array": list(_map().values()),
    "null": None,
}


@pytest.mark.parametrize("value", BAD_MAPS.values(), ids=BAD_MAPS.keys())
def test_bad_claims_refused(value: object) -> None:
    with pytest.raises(ClaimsError):
        decode_claims(cbor2.dumps(value))


BAD_BYTES = {
    "empty": b"",
    "trailing bytes": cbor2.dumps(_map()) + b"\x00",
    "duplicate key": b"\xa6" + cbor2.dumps(_map())[1:] + b"\x02\x61x",
    "indefinite map": b"\xbf" + cbor2.dumps(_map())[1:] + b"\xff",
    "epoch tag on iat": cbor2.dumps(_map(k6=cbor2.CBORTag(1, NOW))),
    "bignum tag on exp": cbor2.dumps(_map(k4=cbor2.CBORTag(2, (NOW + 60).to_bytes(8, "big")))),
    "undefined iat": cbor2.dumps(_map(k6=cbor2.undefined)),
    "simple value iat": cbor2.dumps(_map(k6=cbor2.CBORSimpleValue(16))),
    "sub key as simple(2)": b"\xa5\xe2" + cbor2.dumps(_map())[2:],
    "self-described": b"\xd9\xd9\xf7" + cbor2.dumps(_map()),
}


@pytest.mark.parametrize("data", BAD_BYTES.values(), ids=BAD_BYTES.keys())
def test_bad_claims_bytes_refused(data: bytes) -> None:
    with pytest.raises(ClaimsError):
        decode_claims(data)


def test_sub_key_as_simple_value_is_the_same_map() -> None:
    """The simple(2) form above decodes to a map equal to the real one (so only
    the exact-type key check refuses it)."""
    assert cbor2.dumps(_map())[1:2] == b"\x02"
    assert cbor2.loads(BAD_BYTES["sub key as simple(2)"]) == _map()


# --- the byte reader against its definition --------------------------------------
#
# ``read_claims`` reads the claims map byte by byte.  Its definition is what it
# replaced: the strict CBOR decoder (``cbor.loads``) and then the shape checks.
# That reader is kept here, and only here, as the oracle: on every input both
# must accept with the same fields, or both raise ClaimsError.


def _oracle(payload: bytes) -> ClaimsFields:
    """The cbor2-based reader ``read_claims`` was until the byte reader (its text)."""
    try:
        value = cbor.loads(payload, max_depth=2)
    except CBORError as exc:
        raise ClaimsError("claims are not strict CBOR") from exc
    if type(value) is not dict or value.keys() != {SUB, EXP, IAT, CTI, ECERT}:
        raise ClaimsError("claims map has missing or unknown keys")
    for key in value:
        if type(key) is not int:
            raise ClaimsError("claims map has missing or unknown keys")
    ecert = value[ECERT]
    if type(ecert) is not list or not 6 <= len(ecert) <= 7:
        raise ClaimsError("e-certificate claim must be an array of 6 or 7 items")
    actor = ecert[6] if len(ecert) == 7 else None
    if len(ecert) == 7 and type(actor) is not str:
        raise ClaimsError("actor must be a credential id")
    sub, exp, iat, cti = value[SUB], value[EXP], value[IAT], value[CTI]
    region, ins, bus, channel, name, subject = ecert[:6]
    if not (type(sub) is str and type(exp) is int and type(iat) is int
            and type(cti) is bytes and type(region) is int and type(ins) is int
            and type(bus) is int and type(channel) is int and type(name) is str
            and type(subject) is int):
        raise ClaimsError("claims have values of the wrong type")
    return sub, exp, iat, cti, region, ins, bus, channel, name, subject, actor


def _outcome(read: Callable[[bytes], ClaimsFields], payload: bytes) -> object:
    try:
        return read(payload)
    except ClaimsError:
        return ClaimsError
    # any other exception type fails the test


def assert_same(payload: bytes) -> object:
    """``read_claims`` and the oracle agree on ``payload``; the common outcome."""
    here = _outcome(read_claims, payload)
    assert here == _outcome(_oracle, payload), payload.hex()
    if here is not ClaimsError:
        assert [type(v) for v in here] == [type(v) for v in _oracle(payload)]  # type: ignore
    return here


def _head(major: int, arg: int, width: int) -> bytes:
    """A definite heading of ``major`` with ``arg``: the shortest (``width`` -1), or
    with a ``width``-byte argument (0 for none, 1, 2, 4 or 8) where ``arg`` fits."""
    if width < 0 or arg >= (24 if width == 0 else 1 << (8 * width)):
        width = next(w for w in (0, 1, 2, 4, 8) if arg < (24 if w == 0 else 1 << (8 * w)))
    if width == 0:
        return bytes([major << 5 | arg])
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[width]]) + arg.to_bytes(width, "big")


@st.composite
def _encodings(draw: st.DrawFn, value: object) -> bytes:
    """Any strictly well-formed encoding of ``value`` (ints, text, bytes, lists, int-keyed
    dicts): every heading of any width, map entries in any order."""
    def width() -> int:
        return draw(st.sampled_from([-1, -1, -1, 0, 1, 2, 4, 8]))

    if type(value) is int:
        return _head(0, value, width()) if value >= 0 else _head(1, -1 - value, width())
    if type(value) is str:
        raw = value.encode()
        return _head(3, len(raw), width()) + raw
    if type(value) is bytes:
        return _head(2, len(value), width()) + value
    if type(value) is list:
        return _head(4, len(value), width()) + b"".join(draw(_encodings(v)) for v in value)
    if type(value) is dict:
        items = draw(st.permutations(list(value.items())))
        return _head(5, len(items), width()) + b"".join(
            draw(_encodings(k)) + draw(_encodings(v)) for k, v in items)
    return cbor2.dumps(value)


_TEXTS = st.text(max_size=40) | st.sampled_from(["E4Q7ZK2M9PXA", "张*丰", "K8D2WQ5T7RNB"])
_INTS = st.integers(-(2**64), 2**64 - 1) | st.sampled_from([0, 23, 24, 255, 256, 65535, 65536])
_SCALARS = (_INTS | _TEXTS | st.binary(max_size=20) | st.booleans() | st.none()
            | st.floats(allow_nan=False) | st.just(cbor2.undefined))


@st.composite
def _claims_like(draw: st.DrawFn) -> dict[object, object]:
    """Claims maps near the valid shape: each value sometimes of another kind, keys
    sometimes missing, extra or doubled into another key, arrays of 5 to 8 items."""
    value: dict[object, object] = _map()
    fields: list[object] = list(_fields(f6=draw(st.sampled_from([None, "HOLDER0001"]))))
    if fields[-1] is None:
        fields.pop()
    for position in draw(st.lists(st.integers(0, len(fields) - 1), max_size=2)):
        fields[position] = draw(_SCALARS)
    fields += draw(st.lists(_SCALARS, max_size=1))
    value[ECERT] = fields
    for key in draw(st.lists(st.sampled_from([SUB, EXP, IAT, CTI, ECERT]), max_size=2)):
        value[key] = draw(_SCALARS | st.lists(_SCALARS, max_size=3))
    for key in draw(st.lists(st.sampled_from([SUB, EXP, IAT, CTI, ECERT]), max_size=1)):
        del value[key]
    for key in draw(st.lists(_INTS | _TEXTS, max_size=1)):
        value[key] = draw(_SCALARS)
    return value


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_byte_reader_equals_the_strict_decoder_on_claims_like_maps(data: st.DataObject) -> None:
    value = data.draw(_claims_like())
    assert_same(data.draw(_encodings(value)))
    assert_same(cbor2.dumps(value))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_byte_reader_accepts_every_encoding_of_a_valid_map(data: st.DataObject) -> None:
    actor = data.draw(st.sampled_from([None, "HOLDER0001"]))
    value = _map(m65537=list(_fields(f6=actor)) if actor else list(_fields())[:6])
    assert assert_same(data.draw(_encodings(value))) is not ClaimsError


_CBOR_VALUES = st.recursive(
    _SCALARS | st.builds(cbor2.CBORTag, st.integers(0, 300), _INTS),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(_INTS | _TEXTS, inner,
                                                                max_size=7),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(_CBOR_VALUES)
def test_byte_reader_equals_the_strict_decoder_on_arbitrary_cbor(value: object) -> None:
    assert_same(cbor2.dumps(value))
    assert_same(cbor2.dumps(value, canonical=True))


_VALID = [encode_claims(_claims()), encode_claims(_claims("HOLDER0001"))]


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(_VALID), st.integers(0, 200), st.binary(min_size=0, max_size=3),
       st.integers(0, 3), st.sampled_from(["replace", "insert", "delete", "cut", "extend"]))
def test_byte_reader_equals_the_strict_decoder_on_mutated_claims(
    payload: bytes, at: int, new: bytes, size: int, how: str
) -> None:
    at %= len(payload) + 1
    if how == "replace":
        mutated = payload[:at] + new + payload[at + len(new):]
    elif how == "insert":
        mutated = payload[:at] + new + payload[at:]
    elif how == "delete":
        mutated = payload[:at] + payload[at + size + 1:]
    elif how == "cut":
        mutated = payload[:at]
    else:
        mutated = payload + new
    assert_same(mutated)


def test_byte_reader_on_every_one_byte_change_of_valid_claims() -> None:
    for payload in _VALID:
        assert assert_same(payload) is not ClaimsError
        for i in range(len(payload)):
            for b in range(256):
                assert_same(payload[:i] + bytes([b]) + payload[i + 1:])
            assert_same(payload[:i] + payload[i + 1:])
            assert_same(payload[:i])


@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_byte_reader_refuses_the_not_well_formed_suites(data: bytes) -> None:
    """RFC 8949 Appendix F.1 and the CBOR WG's "bad" set: alone, and as the value of
    the e-certificate claim in an otherwise valid map."""
    assert assert_same(data) is ClaimsError
    assert assert_same(claims_prefix() + data) is ClaimsError


def test_byte_reader_takes_bytes_like_input_and_refuses_other_types() -> None:
    payload = _VALID[0]
    assert read_claims(bytearray(payload)) == read_claims(memoryview(payload)) == read_claims(
        payload)
    with pytest.raises(ClaimsError):
        read_claims(payload.hex())  # type: ignore[arg-type]
