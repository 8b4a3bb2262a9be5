"""A verification reads the clock once, before its checks; the replay mark lands later
(a batch's checks, an awaited store, a busy event loop).  If the token's id expired in
the store in between (Redis drops the key at its EXAT by the server's clock), the store
answers "first use" for a replay.  A token that expired before its mark was made must
be refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncVerifier
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import ReplayStore
from tests.replay.redis_server import REDIS_NOW as NOW
from tests.replay.redis_server import RedisServer


@pytest.fixture
def clock() -> FixedClock:
    """The tests' clock at REDIS_NOW: Redis decides its horizon by its own clock."""
    return FixedClock(NOW)

REG = BusinessType.HOSPITAL_REGISTRATION
LAST = NOW + 60 + VerifyPolicy().leeway - 1
"""The last second at which a token issued at NOW (60 s) is accepted."""


class SteppingClock:
    """Reads ``first`` once, then ``then`` ever after: a verification whose clock read
    came just before a second ended, and whose mark landed just after."""

    def __init__(self, first: int, then: int) -> None:
        self.reads = [first]
        self.then = then

    def __call__(self) -> int:
        return self.reads.pop() if self.reads else self.then


@pytest.fixture
def redis_store(redis_server: RedisServer) -> Iterator[ReplayStore]:
    from ecert_token.replay.redis import RedisReplayStore

    store = RedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                      clock=lambda: NOW - 3600)
    yield store
    store.close()


def used_then_expired(store: ReplayStore, keys: KeyDir, token: str) -> None:
    """First use at NOW + 10; then the id's key reaches its expiry (EXAT) on the server.
    (Simulated by deleting it: waiting out its real time is not a test.)"""
    Verifier(keys.trust_store(), VerifyPolicy(clock=lambda: NOW + 10), store).verify(token, REG)
    expire_ids(store)


def expire_ids(store: ReplayStore) -> None:
    from ecert_token.replay.redis import RedisReplayStore

    assert isinstance(store, RedisReplayStore)
    [key] = [k for k in store.client.scan_iter(match=b"ecert:*") if b":NHSA:" in k]
    store.client.delete(key)


def stale(keys: KeyDir, store: ReplayStore) -> Verifier:
    return Verifier(keys.trust_store(), VerifyPolicy(clock=SteppingClock(LAST, LAST + 1)), store)


@pytest.mark.redis
def test_verify_refuses_a_token_that_expired_before_its_mark(
    redis_store: ReplayStore, keys: KeyDir, token: str
) -> None:
    used_then_expired(redis_store, keys, token)
    with pytest.raises(TokenRejected) as info:
        stale(keys, redis_store).verify(token, REG)
    assert info.value.code is ErrorCode.EXPIRED


@pytest.mark.redis
def test_verify_many_refuses_a_token_that_expired_before_its_mark(
    redis_store: ReplayStore, keys: KeyDir, token: str, issuer: Issuer, credential: Credential
) -> None:
    fresh = issuer.mint(credential, REG, now=NOW + 30)
    used_then_expired(redis_store, keys, token)
    results = stale(keys, redis_store).verify_many([token, fresh], REG, workers=1)
    assert isinstance(results[0], TokenRejected) and results[0].code is ErrorCode.EXPIRED
    assert isinstance(results[1], VerifiedToken)


@pytest.mark.redis
def test_async_verifier_refuses_a_token_that_expired_before_its_mark(
    redis_store: ReplayStore, keys: KeyDir, token: str
) -> None:
    used_then_expired(redis_store, keys, token)
    with pytest.raises(TokenRejected) as info:
        asyncio.run(AsyncVerifier(stale(keys, redis_store)).verify(token, REG))
    assert info.value.code is ErrorCode.EXPIRED
    expire_ids(redis_store)  # (the refused use above marked the id again)
    many = asyncio.run(AsyncVerifier(stale(keys, redis_store)).verify_many([token], REG))
    assert isinstance(many[0], TokenRejected) and many[0].code is ErrorCode.EXPIRED


def test_an_explicit_now_is_taken_as_given(verifier: Verifier, token: str) -> None:
    # The caller's own "now" is the verification time: nothing is read afterwards.
    assert verifier.verify(token, REG, now=LAST)
