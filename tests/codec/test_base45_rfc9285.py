"""codec/base45.py on RFC 9285's examples, on both implementations.

Every test runs on the Python codec and on the compiled accelerator's (the
``impl`` fixture of ``tests/codec``): each gives the RFC's answer, and each
refuses every string that breaks one of the RFC's decoding rules with
``Base45Error`` (the accelerator by handing it back: None).
Source and licence: ``tests/vectors/rfc9285_base45/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecert_token.codec.base45 import Base45Error

from ..conftest import Impl

DOC = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "rfc9285_base45"
     / "rfc9285_examples.json").read_text("utf-8")
)
EXAMPLES = [(e["bytes_ascii"].encode("ascii"), e["base45"]) for e in DOC["examples"]]
INVALID = [c["base45"] for c in DOC["invalid_by_the_rfc_rules"]["cases"]]


@pytest.mark.parametrize(("data", "text"), EXAMPLES, ids=[t for _, t in EXAMPLES])
def test_the_examples(data: bytes, text: str, impl: Impl) -> None:
    assert impl.b45encode(data) == text
    assert impl.b45decode(text) == data


@pytest.mark.parametrize("text", INVALID)
def test_invalid_text_is_refused(text: str, impl: Impl) -> None:
    if impl.extension is not None:
        assert impl.extension.b45decode(text) is None
    with pytest.raises(Base45Error):
        impl.b45decode(text)
