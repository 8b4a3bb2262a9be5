"""token/verify.py: a not-well-formed last claim value is refused as malformed, on
both implementations.

Each vendored not-well-formed input (``tests/vectors/cbor_not_well_formed/``)
becomes the last claim value of a token that is otherwise exactly what the
minter writes, signed and encrypted with the test keys.  The compiled
accelerator must leave it to the pipeline (None: its table of rejections has
no answer for bad CBOR), and the verifier refuses it as malformed on both
implementations (the ``impl`` fixture of ``tests/token``).
"""

from __future__ import annotations

import cbor2
import pytest

from ecert_token import BusinessType, ErrorCode, TokenRejected, Verifier
from ecert_token.keys.keydir import KeyDir
from ecert_token.token import verify

from ..codec.not_well_formed import DATA, IDS, claims_prefix, sign1, token
from ..conftest import NOW, Impl


def accelerator_answer(verifier: Verifier, text: str) -> object:
    assert verify._accelerator is not None
    routes = verifier.trust.routes()
    assert routes is not None
    policy = verifier.policy
    return verify._accelerator(text[4:], routes.groups, routes.issuers, NOW, policy.leeway,
                               policy.max_lifetime)


def test_the_control_token_is_valid(keys: KeyDir, verifier: Verifier, impl: Impl) -> None:
    """Without the substitution the same sealing gives a valid token (read by the
    accelerator where it is on), so the refusals below are about the CBOR."""
    whole = claims_prefix() + cbor2.dumps([110105, 310, 1101, 2, "张*丰", 1])
    text = token(keys, sign1(keys, whole))
    if impl.accelerated:
        assert isinstance(accelerator_answer(verifier, text), tuple)
    verifier.verify(text, BusinessType.HOSPITAL_REGISTRATION)


@pytest.mark.parametrize("data", DATA, ids=IDS)
def test_refused_as_malformed(data: bytes, keys: KeyDir, verifier: Verifier, impl: Impl) -> None:
    text = token(keys, sign1(keys, claims_prefix() + data))
    if impl.accelerated:
        assert accelerator_answer(verifier, text) is None
    with pytest.raises(TokenRejected) as info:
        verifier.verify(text, BusinessType.HOSPITAL_REGISTRATION)
    assert info.value.code is ErrorCode.MALFORMED
