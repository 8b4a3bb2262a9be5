"""CWT claims: integer keys, one private claim, exact types, validated values."""

from __future__ import annotations

import cbor2
import pytest

from ecert_token import BusinessType, Channel, InsuranceType, Region, SubjectKind, TokenClaims
from ecert_token.codec.cwt import (
    CTI,
    ECERT,
    EXP,
    SUB,
    ClaimsError,
    decode_claims,
    encode_claims,
)
from tests.conftest import NOW
from tests.core.forge import TOKEN_ID as TID
from tests.core.forge import claims_map as _map
from tests.core.forge import ecert_fields as _fields


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
