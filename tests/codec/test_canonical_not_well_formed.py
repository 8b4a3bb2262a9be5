"""codec/canonical.py: a not-well-formed last claim value is read by neither Sign1 reader.

Each vendored not-well-formed input (``tests/vectors/cbor_not_well_formed/``)
becomes the last claim value of a token that is otherwise exactly what the
minter writes, signed and encrypted with the test keys: the compiled reader
and ``read_sign1_python`` must both answer None (the same answer), and the
verifier, on either implementation, refuses the token as malformed.
"""

from __future__ import annotations

import pytest

from ecert_token import BusinessType, ErrorCode, TokenRejected, Verifier
from ecert_token.codec import canonical
from ecert_token.codec.canonical import read_sign1_python
from ecert_token.keys.keydir import KeyDir
from ecert_token.keys.routes import Routes

from ..perf.compiled import skip_unless_built
from .not_well_formed import DATA, IDS, claims_prefix, sign1, token

COMPILED = canonical.read_sign1 if canonical.IMPLEMENTATION == "C extension" else None


@pytest.fixture
def openings(keys: KeyDir) -> dict[bytes, object]:
    routes = keys.trust_store().routes()
    assert isinstance(routes, Routes)
    return dict(routes.issuers)


def readers() -> list[object]:
    return [read_sign1_python] if COMPILED is None else [read_sign1_python, COMPILED]


def test_the_control_token_is_read_and_valid(
    keys: KeyDir, openings: dict[bytes, object], verifier: Verifier
) -> None:
    """Without the substitution the same sealing gives a token both readers read
    and the verifier accepts, so the refusals below are about the CBOR."""
    import cbor2

    whole = claims_prefix() + cbor2.dumps([110105, 310, 1101, 2, "张*丰", 1])
    plaintext = sign1(keys, whole)
    for read in readers():
        assert read(plaintext, openings) is not None  # type: ignore[operator]
    verifier.verify(token(keys, plaintext), BusinessType.HOSPITAL_REGISTRATION)


@skip_unless_built(COMPILED, "codec._canonical")
@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_both_readers_answer_none(
    data: bytes, keys: KeyDir, openings: dict[bytes, object]
) -> None:
    assert COMPILED is not None
    plaintext = sign1(keys, claims_prefix() + data)
    assert read_sign1_python(plaintext, openings) is None
    assert COMPILED(plaintext, openings) is None


@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_the_verifier_says_malformed(data: bytes, keys: KeyDir, verifier: Verifier) -> None:
    text = token(keys, sign1(keys, claims_prefix() + data))
    with pytest.raises(TokenRejected) as info:
        verifier.verify(text, BusinessType.HOSPITAL_REGISTRATION)
    assert info.value.code is ErrorCode.MALFORMED
