"""Strict CBOR decoding: one well-formed item, no tags, bounded depth, no lax forms."""

from __future__ import annotations

import math

import pytest

from ecert_token.codec import cbor
from ecert_token.codec.cbor import CBORError


@pytest.mark.parametrize(
    ("hex_item", "value"),
    [
        ("00", 0),
        ("1903e8", 1000),
        ("3a0001869f", -100000),
        ("1b000000ffffffffff", 2**40 - 1),
        ("4401020304", b"\x01\x02\x03\x04"),
        ("63e5bca0", "张"),
        ("83010203", [1, 2, 3]),
        ("a201020304", {1: 2, 3: 4}),
        ("a0", {}),
        ("80", []),
    ],
)
def test_accepts_well_formed_items(hex_item: str, value: object) -> None:
    assert cbor.loads(bytes.fromhex(hex_item), max_depth=2) == value


def test_dumps_is_deterministic() -> None:
    assert cbor.dumps({4: 1, 1: 2}) == bytes.fromhex("a201020401")
    assert cbor.dumps({-65537: [1], 2: "a"}) == cbor.dumps({2: "a", -65537: [1]})
    assert cbor.dumps(24) == b"\x18\x18"


REFUSED = {
    # duplicate keys, also across Python-equal keys of other types
    "duplicate int keys": "a201020103",
    "duplicate key as float": "a20102f93c0003",
    "duplicate key as true": "a20102f503",
    "duplicate text keys": "a261610161610102",
    # trailing bytes
    "trailing byte": "0000",
    "two items": "a0a0",
    "trailing break": "80ff",
    # indefinite lengths
    "indefinite array": "9f01ff",
    "indefinite map": "bf0102ff",
    "indefinite byte string": "5f4101ff",
    "indefinite text string": "7f6161ff",
    "empty indefinite array": "9fff",
    # tags, the ones cbor2 knows and others
    "tag 0 date text": "c074323032362d30392d32315430303a30303a30305a",
    "tag 1 epoch": "c11a6a8f0d80",
    "tag 2 bignum": "c249010000000000000000",
    "tag 3 negative bignum": "c349010000000000000000",
    "tag 24 embedded cbor": "d8184100",
    "tag 28 shareable": "d81c01",
    "tag 29 shared ref": "d81d00",
    "tag 55799 self-describe": "d9d9f700",
    "tag 16 encrypt0 inside cbor": "d08340a040",
    "unknown tag 65536": "da0001000001",
    "unknown tag 1000": "d903e801",
    "tag inside an array": "81c101",
    # not well-formed
    "empty input": "",
    "lone break": "ff",
    "reserved additional info": "1c",
    "truncated integer": "1903",
    "truncated byte string": "4401",
    "byte string length beyond input": "5bffffffffffffffff",
    "array length beyond input": "9bffffffffffffffff",
    "map length beyond input": "bb0000000100000000",
    "invalid utf-8 text": "62fffe",
    "two-byte simple below 32": "f818",
    "truncated float": "f97e",
    # nesting deeper than allowed (max_depth=2 here)
    "depth three": "81818101",
    "map in array in map": "a10181a10101",
}


@pytest.mark.parametrize("hex_item", REFUSED.values(), ids=REFUSED.keys())
def test_refuses(hex_item: str) -> None:
    with pytest.raises(CBORError):
        cbor.loads(bytes.fromhex(hex_item), max_depth=2)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_depth_limit_counts_containers(limit: int) -> None:
    """``max_depth`` containers nest; one more is refused."""
    assert cbor.loads(b"\x81" * limit + b"\x01", max_depth=limit) is not None
    with pytest.raises(CBORError):
        cbor.loads(b"\x81" * (limit + 1) + b"\x01", max_depth=limit)
    with pytest.raises(CBORError):
        cbor.loads(b"\xa1\x01" * (limit + 1) + b"\x01", max_depth=limit)


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    with pytest.raises(CBORError):
        cbor.loads(b"\x81" * 100_000 + b"\x00", max_depth=2)


@pytest.mark.parametrize(
    ("hex_item", "kind"),
    [
        ("f97e00", "nan"),
        ("f97c00", "inf"),
        ("fbfff0000000000000", "-inf"),
        ("f93c00", "1.0"),
        ("f4", "false"),
        ("f5", "true"),
        ("f6", "null"),
        ("f7", "undefined"),
        ("f0", "simple(16)"),
        ("f820", "simple(32)"),
    ],
)
def test_floats_and_simple_values_are_not_ints(hex_item: str, kind: str) -> None:
    """Such items decode (callers check exact types); none of them is an ``int``."""
    value = cbor.loads(bytes.fromhex(hex_item), max_depth=1)
    assert type(value) is not int, kind
    if kind in ("nan", "inf", "-inf"):
        assert isinstance(value, float)
        assert not math.isfinite(value)
