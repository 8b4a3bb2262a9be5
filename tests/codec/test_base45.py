"""Base45 (codec/base45.py) on both implementations: the Python codec, and the
compiled accelerator's (which must answer exactly what Python answers, or None).

Every test runs twice (the ``impl`` fixture); ``b45decode`` / ``b45encode``
below are the implementation under test.  ``reference`` holds the original
per-character codec as an oracle.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token.codec.base45 import ALPHABET, Base45Error
from ecert_token.codec.base45 import b45decode as b45decode_python
from ecert_token.codec.base45 import b45encode as b45encode_python
from tests.core.vectors import load

from ..conftest import Impl
from ..token import reference

_current: list[Impl] = []


@pytest.fixture(scope="module", autouse=True)
def _implementation(impl: Impl) -> Impl:
    _current[:] = [impl]
    return impl


def b45decode(text: str) -> bytes:
    return _current[0].b45decode(text)


def b45encode(data: bytes) -> str:
    return _current[0].b45encode(data)


VECTORS = load("base45.json")
VALID = [pytest.param(v["hex"], v["text"], id=v["note"]) for v in VECTORS["valid"]]
INVALID = [pytest.param(v["text"], id=v["reason"]) for v in VECTORS["invalid"]]


def compiled() -> Any:
    """The extension under test; skips the test on the Python implementation."""
    if not _current[0].accelerated:
        pytest.skip("about the compiled codec")
    return _current[0].extension

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


def outcome(text: str) -> tuple[str, bytes | None]:
    try:
        return "ok", b45decode(text)
    except Base45Error:
        return "error", None


def reference_outcome(text: str) -> tuple[str, bytes | None]:
    try:
        return "ok", reference.b45decode(text)
    except reference.ReferenceBase45Error:
        return "error", None


@given(st.binary(max_size=420))
def test_round_trip_and_same_text_as_before(data: bytes) -> None:
    text = b45encode(data)
    assert text == reference.b45encode(data)
    assert b45decode(text) == data


@given(st.text(alphabet=ALPHABET + "abc\x00\u00e9\u4e2d\U0001f600", max_size=40))
def test_same_answer_as_before_on_any_text(text: str) -> None:
    assert outcome(text) == reference_outcome(text)


def test_limits_of_each_group() -> None:
    # The largest valid triple (65535 = "FGW") and pair (255 = "U5"), and one above each.
    assert b45decode("FGW") == b"\xff\xff"
    assert b45decode("U5") == b"\xff"
    for text in ("GGW", "FHW", "FGX", "::::", "V5", "U6", "::", "0", "0000"):
        assert outcome(text) == reference_outcome(text)
        assert outcome(text)[0] == "error"


def test_random_high_values_in_every_position() -> None:
    rnd = random.Random(45)
    high = ALPHABET[-12:]  # digits 33..44 push groups over the limit
    for _ in range(3000):
        n = rnd.randrange(0, 30)
        text = "".join(rnd.choice(high if rnd.random() < 0.5 else ALPHABET) for _ in range(n))
        assert outcome(text) == reference_outcome(text)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 199, 200, 201, 299, 300, 301, 1000])
def test_long_and_short_inputs(size: int) -> None:
    data = bytes(random.Random(size).randrange(256) for _ in range(size))
    assert b45decode(b45encode(data)) == data


def test_non_text_is_refused() -> None:
    with pytest.raises(Base45Error):
        b45decode(b"ABC")  # type: ignore[arg-type]


def test_reciprocal_division_is_exact_over_the_whole_range() -> None:
    # The encoder divides every lane at once by multiplying with a reciprocal.
    assert all(v // 2025 == (v * 132561) >> 28 for v in range(0x10000))
    assert all(r // 45 == (r * 2913) >> 17 for r in range(2025))


def test_every_group_value_encodes_as_before() -> None:
    data = b"".join(v.to_bytes(2, "big") for v in range(0x10000))
    assert b45encode(data) == reference.b45encode(data)
    assert b45decode(b45encode(data)) == data


def python_answer(text: str) -> bytes | None:
    try:
        return b45decode_python(text)
    except Base45Error:
        return None


@given(st.text(alphabet=ALPHABET + "abz\x00\x7f\x80\u00e9\u4e2d\U0001f600", max_size=60))
def test_decode_agrees_on_any_text(text: str) -> None:
    assert compiled().b45decode(text) == python_answer(text)


@given(st.text(max_size=30))
def test_decode_agrees_on_arbitrary_unicode(text: str) -> None:
    assert compiled().b45decode(text) == python_answer(text)


@given(st.binary(max_size=600))
def test_encode_agrees_and_round_trips(data: bytes) -> None:
    text = compiled().b45encode(data)
    assert text == b45encode_python(data)
    assert compiled().b45decode(text) == data


def test_every_group_and_pair_agrees() -> None:
    for a, b, c in itertools.product(ALPHABET, repeat=3):
        text = a + b + c
        assert compiled().b45decode(text) == python_answer(text), text
    for a, b in itertools.product(ALPHABET, repeat=2):
        assert compiled().b45decode(a + b) == python_answer(a + b), a + b
    for v in range(65536):
        data = v.to_bytes(2, "big")
        assert compiled().b45encode(data) == b45encode_python(data)
    for v in range(256):
        assert compiled().b45encode(bytes([v])) == b45encode_python(bytes([v]))


def test_invalid_text_in_every_position_is_handed_back() -> None:
    valid = b45encode_python(bytes(range(200)))
    for i in range(len(valid)):
        for bad in ("a", "\x00", "\u00e9", "~", "_"):
                    assert compiled().b45decode(valid[:i] + bad + valid[i + 1:]) is None
    assert compiled().b45decode(valid + "0") is None  # 1 mod 3
    assert compiled().b45decode("GGW") is None  # 65536
    assert compiled().b45decode("U6") is None  # 256


@pytest.mark.parametrize("value", [b"AB", bytearray(b"AB"), memoryview(b"AB"), 7, None])
def test_other_types_are_handed_back(value: object) -> None:
    assert compiled().b45decode(value) is None
    if not isinstance(value, bytes):
        assert compiled().b45encode(value) is None


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
    assert compiled().b45decode(compiled().b45encode(data)) == data


def test_pure_python_can_be_forced() -> None:
    env = dict(os.environ, ECERT_TOKEN_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", "from ecert_token import _speedups; "
         "from ecert_token.token import verify; "
         "print(_speedups.extension, verify._accelerator)"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["None", "None"]
