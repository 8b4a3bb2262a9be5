"""verify_many's promise that a token id seen twice in one batch is accepted once,
whatever the store does, and that a store's nonsense answer fails closed (as in
AsyncVerifier) rather than escaping as a non-EcertError."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FixedClock,
    Issuer,
    StoreUnavailable,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncVerifier, ThreadedReplayStore
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, ReplayEntry
from tests.conftest import NOW
from tests.replay.conftest import need_redis
from tests.replay.redis_server import RedisServer

REG = BusinessType.HOSPITAL_REGISTRATION


def codes(results: Sequence[VerifiedToken | TokenRejected]) -> list[str]:
    return ["ok" if isinstance(r, VerifiedToken) else r.code.value for r in results]


@pytest.mark.redis
def test_fail_open_still_refuses_a_duplicate_within_one_batch(
    tmp_path: Path, keys: KeyDir, clock: FixedClock, *, token: str, issuer: Issuer,
    credential: Credential,
) -> None:
    need_redis()
    from ecert_token.replay.redis import RedisReplayStore

    server = RedisServer(tmp_path / "redis")
    server.start()
    store = RedisReplayStore.from_url(server.url, max_lifetime=305, clock=clock, fail_open=True)
    server.stop()
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=clock), replay_store=store)
    other = issuer.mint(credential, REG)
    results = verifier.verify_many([token, other, token, token], REG, workers=1)
    assert codes(results) == ["ok", "ok", "replayed", "replayed"]
    e = ReplayEntry("NHSA", b"same-id!", NOW, NOW + 65)
    assert store.check_and_mark_many([e, e], NOW) == [MarkResult.FIRST_USE, MarkResult.REPLAYED]
    store.close()


class _ShortAnswers:
    """A store that answers a batch with one result too few (a broken custom store)."""

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return MarkResult.FIRST_USE

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        return [MarkResult.FIRST_USE] * (len(entries) - 1)


def test_a_store_answer_of_the_wrong_length_fails_closed_like_the_async_verifier(
    keys: KeyDir, clock: FixedClock, token: str, issuer: Issuer, credential: Credential
) -> None:
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=clock), _ShortAnswers())
    other = issuer.mint(credential, REG)
    sync = verifier.verify_many([token, other, "EC1:garbage"], REG, workers=1)
    assert codes(sync) == ["store_unavailable", "store_unavailable", "malformed"]
    assert all(type(r) is StoreUnavailable for r in sync[:2])
    fresh = Verifier(keys.trust_store(), VerifyPolicy(clock=clock), _ShortAnswers())
    async_results = asyncio.run(
        AsyncVerifier(fresh, ThreadedReplayStore(_ShortAnswers())).verify_many(
            [token, other, "EC1:garbage"], REG
        )
    )
    assert codes(async_results) == codes(sync)

