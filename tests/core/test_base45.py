"""Base45 (RFC 9285), parametrized over tests/vectors/base45.json."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.codec.base45 import ALPHABET, Base45Error, b45decode, b45encode
from tests.core.vectors import load

VECTORS = load("base45.json")
VALID = [pytest.param(v["hex"], v["text"], id=v["note"]) for v in VECTORS["valid"]]
INVALID = [pytest.param(v["text"], id=v["reason"]) for v in VECTORS["invalid"]]


def test_vector_file_holds_the_rfc_examples() -> None:
    texts = {v["text"] for v in VECTORS["valid"]}
    assert {"BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0"} <= texts
    reasons = " ".join(v["reason"] for v in VECTORS["invalid"])
    for what in ("above 65535", "above 255", "1 mod 3", "lowercase"):
        assert what in reasons


@pytest.mark.parametrize(("hex_bytes", "text"), VALID)
def test_encode(hex_bytes: str, text: str) -> None:
    assert b45encode(bytes.fromhex(hex_bytes)) == text


@pytest.mark.parametrize(("hex_bytes", "text"), VALID)
def test_decode(hex_bytes: str, text: str) -> None:
    assert b45decode(text) == bytes.fromhex(hex_bytes)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(text)


def test_alphabet_is_the_qr_alphanumeric_set() -> None:
    assert len(ALPHABET) == 45
    assert set(ALPHABET) == set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=300))
def test_round_trip(data: bytes) -> None:
    text = b45encode(data)
    assert set(text) <= set(ALPHABET)
    assert len(text) == 3 * (len(data) // 2) + 2 * (len(data) % 2)
    assert b45decode(text) == data


@settings(max_examples=500, derandomize=True)
@given(st.text(max_size=60))
def test_decode_raises_only_base45_error(text: str) -> None:
    try:
        data = b45decode(text)
    except Base45Error:
        return
    # Whatever decodes must re-encode to the very same text (no second form).
    assert b45encode(data) == text
