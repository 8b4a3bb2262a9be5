"""The keyless half of settlement: the handle's layout and the settlement fields."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Channel,
    EcertError,
    ErrorCode,
    InsuranceType,
    Region,
    SubjectKind,
    TokenClaims,
)
from ecert_token.model.settlement import (
    HANDLE_CHARS,
    Settlement,
    compose_handle,
    credential_ref,
    parse_handle,
)

NOW = 1_790_000_000


def claims(token_id: bytes, cid: str = "E4Q7ZK2M9PXA", exp: int = NOW + 60,
           channel: Channel = Channel.WECHAT) -> TokenClaims:
    return TokenClaims(token_id, exp - 60, exp, cid, SubjectKind.INSURED_PERSON,
                       Region("110105"), InsuranceType.EMPLOYEE_BASIC, "张*",
                       BusinessType.PHARMACY_PURCHASE, channel)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(token_id=st.binary(min_size=12, max_size=12),
       cid=st.from_regex(r"[0-9A-Za-z_-]{6,32}", fullmatch=True),
       exp=st.integers(61, 2**32 - 1))
def test_compose_then_parse(token_id: bytes, cid: str, exp: int) -> None:
    handle = compose_handle(claims(token_id, cid, exp))
    assert handle is not None and len(handle) == HANDLE_CHARS
    assert set(handle) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    parts = parse_handle(handle)
    assert (parts.expires_at, parts.token_id, parts.ref) == (exp, token_id, credential_ref(cid))
    assert parts.salt + parts.tag == token_id
    assert parse_handle(handle.lower()) == parts


@pytest.mark.parametrize("size", [8, 9, 11, 13, 16])
def test_other_token_ids_have_no_handle(size: int) -> None:
    assert compose_handle(claims(bytes(size))) is None
    assert Settlement.of(claims(bytes(size))).mdtrt_cert_no is None


def test_a_code_after_2106_has_no_handle() -> None:
    assert compose_handle(claims(bytes(12), exp=2**32)) is None


def test_fields_and_local_channels() -> None:
    fields = Settlement.of(claims(bytes(12)))
    assert fields.to_dict() == {
        "mdtrt_cert_type": "01", "mdtrt_cert_no": fields.mdtrt_cert_no,
        "insuplc_admdvs": "110105", "insutype": "310", "business_type": "02121",
        "business_class": "payment", "ec_qr_channel": "2"}
    assert fields.mdtrt_cert_no is not None and fields.mdtrt_cert_no not in repr(fields)
    for local in (Channel.NATIONAL_SERVICE_APP, Channel.BANK_APP):
        assert Settlement.of(claims(bytes(12), channel=local)).ec_qr_channel is None


@settings(max_examples=300, derandomize=True, deadline=None)
@given(text=st.one_of(st.text(max_size=45), st.binary(max_size=45), st.integers(),
                      st.none()))
def test_parse_refuses_anything_else_with_one_code(text: object) -> None:
    try:
        parts = parse_handle(text)
    except EcertError as exc:
        assert exc.code is ErrorCode.HANDLE_MALFORMED
    else:  # only real base32 of the right layout gets through
        assert isinstance(text, str)
        assert base64.b32decode(text.upper())[0] == 1 and len(parts.token_id) == 12
