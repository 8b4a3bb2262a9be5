"""codec/base45.py on RFC 9285's examples, on both implementations.

The compiled ``_base45`` (where built) must give the RFC's answer or None
("not mine"); the pure-Python functions and the public ``b45decode`` /
``b45encode`` must give the answer, and refuse each string that breaks one of
the RFC's decoding rules with ``Base45Error`` (the C side answering None).
Source and licence: ``tests/vectors/rfc9285_base45/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecert_token.codec import base45
from ecert_token.codec.base45 import (
    Base45Error,
    b45decode,
    b45decode_python,
    b45encode,
    b45encode_python,
)

from ..perf.compiled import skip_unless_built

DOC = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "rfc9285_base45"
     / "rfc9285_examples.json").read_text("utf-8")
)
EXAMPLES = [(e["bytes_ascii"].encode("ascii"), e["base45"]) for e in DOC["examples"]]
INVALID = [c["base45"] for c in DOC["invalid_by_the_rfc_rules"]["cases"]]
COMPILED = base45._compiled


@pytest.mark.parametrize(("data", "text"), EXAMPLES, ids=[t for _, t in EXAMPLES])
def test_python_and_public_functions_give_the_examples(data: bytes, text: str) -> None:
    assert b45encode_python(data) == text
    assert b45decode_python(text) == data
    assert b45encode(data) == text
    assert b45decode(text) == data


@skip_unless_built(COMPILED, "codec._base45")
@pytest.mark.parametrize(("data", "text"), EXAMPLES, ids=[t for _, t in EXAMPLES])
def test_the_compiled_side_gives_the_examples(data: bytes, text: str) -> None:
    assert COMPILED is not None
    assert COMPILED.encode(data) == text
    assert COMPILED.decode(text) == data


@pytest.mark.parametrize("text", INVALID)
def test_python_and_public_decoders_refuse(text: str) -> None:
    with pytest.raises(Base45Error):
        b45decode_python(text)
    with pytest.raises(Base45Error):
        b45decode(text)


@skip_unless_built(COMPILED, "codec._base45")
@pytest.mark.parametrize("text", INVALID)
def test_the_compiled_decoder_hands_invalid_text_back(text: str) -> None:
    assert COMPILED is not None
    assert COMPILED.decode(text) is None
