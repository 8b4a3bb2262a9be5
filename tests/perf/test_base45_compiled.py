"""The optional C Base45 gives exactly the pure-Python answers, or hands the input back.

Where the extension was not built these tests skip, unless
``ECERT_REQUIRE_SPEEDUPS=1`` (set by CI), which makes its absence a failure;
with ``ECERT_TOKEN_PURE_PYTHON=1`` (turned off on purpose) they skip.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert_token.codec import base45
from ecert_token.codec.base45 import (
    ALPHABET,
    Base45Error,
    b45decode,
    b45decode_python,
    b45encode,
    b45encode_python,
)

from .compiled import skip_unless_built

compiled = base45._compiled
pytestmark = skip_unless_built(compiled, "codec._base45")


def python_answer(text: str) -> bytes | None:
    try:
        return b45decode_python(text)
    except Base45Error:
        return None


@given(st.text(alphabet=ALPHABET + "abz\x00\x7f\x80\u00e9\u4e2d\U0001f600", max_size=60))
def test_decode_agrees_on_any_text(text: str) -> None:
    assert compiled is not None
    assert compiled.decode(text) == python_answer(text)


@given(st.text(max_size=30))
def test_decode_agrees_on_arbitrary_unicode(text: str) -> None:
    assert compiled is not None
    assert compiled.decode(text) == python_answer(text)


@given(st.binary(max_size=600))
def test_encode_agrees_and_round_trips(data: bytes) -> None:
    assert compiled is not None
    text = compiled.encode(data)
    assert text == b45encode_python(data)
    assert compiled.decode(text) == data


def test_every_group_and_pair_agrees() -> None:
    assert compiled is not None
    for a, b, c in itertools.product(ALPHABET, repeat=3):
        text = a + b + c
        assert compiled.decode(text) == python_answer(text), text
    for a, b in itertools.product(ALPHABET, repeat=2):
        assert compiled.decode(a + b) == python_answer(a + b), a + b
    for v in range(65536):
        data = v.to_bytes(2, "big")
        assert compiled.encode(data) == b45encode_python(data)
    for v in range(256):
        assert compiled.encode(bytes([v])) == b45encode_python(bytes([v]))


def test_invalid_text_in_every_position_is_handed_back() -> None:
    valid = b45encode_python(bytes(range(200)))
    for i in range(len(valid)):
        for bad in ("a", "\x00", "\u00e9", "~", "_"):
            assert compiled is not None
            assert compiled.decode(valid[:i] + bad + valid[i + 1:]) is None
    assert compiled is not None
    assert compiled.decode(valid + "0") is None  # 1 mod 3
    assert compiled.decode("GGW") is None  # 65536
    assert compiled.decode("U6") is None  # 256


@pytest.mark.parametrize("value", [b"AB", bytearray(b"AB"), memoryview(b"AB"), 7, None])
def test_other_types_are_handed_back(value: object) -> None:
    assert compiled is not None
    assert compiled.decode(value) is None
    if not isinstance(value, bytes):
        assert compiled.encode(value) is None


def test_public_functions_keep_every_error_and_accept_bytes_likes() -> None:
    with pytest.raises(Base45Error, match="outside the Base45 alphabet"):
        b45decode("AB~")
    with pytest.raises(Base45Error, match="1 mod 3"):
        b45decode("ABCD")
    with pytest.raises(Base45Error, match="must be text"):
        b45decode(b"AB")  # type: ignore[arg-type]
    assert b45encode(bytearray(b"AB")) == b45encode(memoryview(b"AB")) == "BB8"


def test_large_input() -> None:
    data = bytes(range(256)) * 4000
    assert compiled is not None
    assert compiled.decode(compiled.encode(data)) == data


def test_pure_python_can_be_forced() -> None:
    env = dict(os.environ, ECERT_TOKEN_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", "from ecert_token.codec import base45; "
         "print(base45.IMPLEMENTATION, base45.b45decode('BB8'))"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["pure", "Python", "b'AB'"]
    assert base45.IMPLEMENTATION == "C extension"
