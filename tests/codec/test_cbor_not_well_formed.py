"""codec/cbor.py's strict ``loads`` refuses every vendored not-well-formed input with
``CBORError`` and nothing else; as a token's body, the verifier refuses it as malformed.

Inputs: RFC 8949 Appendix F.1 and the CBOR WG's "bad" set
(``tests/vectors/cbor_not_well_formed/README.md``).
"""

from __future__ import annotations

import pytest

from ecert_token import BusinessType, ErrorCode, TokenRejected, Verifier
from ecert_token.codec import cbor
from ecert_token.codec.cbor import CBORError
from ecert_token.token.text import to_text

from .not_well_formed import DATA, IDS, INPUTS


def test_both_sources_are_read() -> None:
    assert sum(name.startswith("rfc8949-F1") for name, _ in INPUTS) == 94
    assert sum(name.startswith("cbor-wg") for name, _ in INPUTS) == 47


@pytest.mark.parametrize("max_depth", [1, 4, 64])
@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_strict_loads_raises_only_cbor_error(data: bytes, max_depth: int) -> None:
    with pytest.raises(CBORError):
        cbor.loads(data, max_depth=max_depth)


@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_as_a_tagged_body_the_verifier_says_malformed(data: bytes, verifier: Verifier) -> None:
    for body in (data, b"\xd0" + data, b"\xd2" + data):
        with pytest.raises(TokenRejected) as info:
            verifier.verify(to_text(body), BusinessType.HOSPITAL_REGISTRATION)
        assert info.value.code is ErrorCode.MALFORMED
