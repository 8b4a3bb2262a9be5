"""Batch verification: per-token results in order, one store round trip."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    InvalidArgument,
    Issuer,
    MemoryReplayStore,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay.base import MarkResult, ReplayEntry
from ecert_token.token.batch import MIN_PER_CHUNK

from ..conftest import NOW, running_store

REG = BusinessType.HOSPITAL_REGISTRATION


class CountingStore(MemoryReplayStore):
    """The real in-memory store, counting its round trips."""

    def __init__(self) -> None:
        super().__init__(max_lifetime=305, clock=lambda: NOW - 3600)  # a running terminal
        self.single = 0
        self.batches: list[int] = []

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        self.single += 1
        return super().check_and_mark(entry, now)

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        self.batches.append(len(entries))
        return super().check_and_mark_many(entries, now)


def code(result: VerifiedToken | TokenRejected) -> str:
    return "ok" if isinstance(result, VerifiedToken) else result.code.value


def corpus(issuer: Issuer, credential: Credential, n: int) -> list[str | bytes]:
    tokens: list[str | bytes] = []
    for i in range(n):
        token = issuer.mint(credential, REG if i % 5 else BusinessType.HOSPITAL_SETTLEMENT)
        if i % 7 == 3:
            token = token[:-3] + "000"
        if i % 11 == 4:
            token = "HC1:" + token[4:]
        tokens.append(token.encode() if i % 13 == 6 else token)
    tokens.append(tokens[1])  # a repeat within the batch: first wins
    return tokens


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_same_results_as_one_by_one(keys: KeyDir, issuer: Issuer, credential: Credential,
                                    workers: int) -> None:
    tokens = corpus(issuer, credential, 4 * MIN_PER_CHUNK * workers)
    one_by_one = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW), running_store())
    expected = []
    for t in tokens:
        try:
            expected.append(one_by_one.verify(t, REG))
        except TokenRejected as exc:
            expected.append(exc)
    store = CountingStore()
    batch = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW), store)
    results = batch.verify_many(tokens, REG, workers=workers)
    assert [code(r) for r in results] == [code(r) for r in expected]
    assert [r for r in results if isinstance(r, VerifiedToken)] == [
        r for r in expected if isinstance(r, VerifiedToken)]
    assert {code(r) for r in results} >= {"ok", "malformed", "wrong_business_type",
                                          "decryption_failed", "replayed"}
    assert store.single == 0 and len(store.batches) == 1  # one round trip
    assert store.batches[0] == sum(
        isinstance(e, VerifiedToken) for e in expected) + 1  # + the in-batch repeat


def test_only_valid_tokens_are_marked(keys: KeyDir, issuer: Issuer,
                                      credential: Credential) -> None:
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW), running_store())
    settle = issuer.mint(credential, BusinessType.HOSPITAL_SETTLEMENT)
    results = verifier.verify_many([settle, "garbage"], REG)
    assert [code(r) for r in results] == ["wrong_business_type", "malformed"]
    assert isinstance(verifier.verify(settle, BusinessType.HOSPITAL_SETTLEMENT), VerifiedToken)
    again = verifier.verify_many([settle], BusinessType.HOSPITAL_SETTLEMENT)
    assert isinstance(again[0], TokenRejected) and again[0].code is ErrorCode.REPLAYED


def test_empty_and_all_bad_batches(keys: KeyDir) -> None:
    store = CountingStore()
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW), store)
    assert verifier.verify_many([], REG) == []
    results = verifier.verify_many(["x"] * 100, REG, workers=2)
    assert [code(r) for r in results] == ["malformed"] * 100
    assert store.batches == []  # nothing valid: no round trip at all


def test_fenced_tokens_in_a_batch(keys: KeyDir, issuer: Issuer, credential: Credential) -> None:
    token = issuer.mint(credential, REG)
    later = MemoryReplayStore(max_lifetime=305, clock=lambda: NOW + 1)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW), later)
    (result,) = verifier.verify_many([token], REG, now=NOW + 1)
    assert isinstance(result, TokenRejected) and result.code is ErrorCode.POSSIBLY_REPLAYED


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_bad_worker_counts(verifier: Verifier, workers: object) -> None:
    with pytest.raises(InvalidArgument):
        verifier.verify_many(["x"], REG, workers=workers)  # type: ignore[arg-type]
