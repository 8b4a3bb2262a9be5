"""The table-driven Base45 codec against the original per-character one."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert_token.codec.base45 import ALPHABET, Base45Error, b45decode, b45encode

from . import reference


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
