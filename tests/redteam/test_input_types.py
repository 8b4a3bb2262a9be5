"""Inputs of the wrong kind: a rejection or an InvalidArgument, never another exception,
and never a silently wrong answer (a str given to verify_many is one token, not a batch
of characters)."""

from __future__ import annotations

import asyncio

import pytest

from ecert_token import BusinessType, ErrorCode, InvalidArgument, TokenRejected, Verifier
from ecert_token.aio import AsyncVerifier
from tests.conftest import NOW

REG = BusinessType.HOSPITAL_REGISTRATION


def test_a_released_memoryview_is_malformed_not_a_value_error(
    verifier: Verifier, token: str
) -> None:
    view = memoryview(token.encode())
    view.release()
    with pytest.raises(TokenRejected) as info:
        verifier.verify(view, REG)  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.MALFORMED
    assert verifier.verify(memoryview(token.encode()), REG)  # type: ignore[arg-type]


@pytest.mark.parametrize("tokens", [None, 5, "EC1:ABC", b"EC1:ABC"])
def test_verify_many_wants_a_sequence_of_tokens(verifier: Verifier, tokens: object) -> None:
    with pytest.raises(InvalidArgument):
        verifier.verify_many(tokens, REG, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        asyncio.run(AsyncVerifier(verifier).verify_many(tokens, REG, now=NOW))  # type: ignore[arg-type]
