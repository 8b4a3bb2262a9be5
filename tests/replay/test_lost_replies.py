"""Lost replies (issue #10, defect 4): the store recorded the mark but its answer never
reached the verifier.  The verifier refuses (``store_unavailable``); the holder's re-scan
at the same verifier must then be accepted once, and everyone else still reads
``replayed``.  Over real TCP: a proxy in front of a real redis-server drops or delays
the answers (tests/replay/proxy.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    StoreUnavailable,
    TokenRejected,
    VerifiedToken,
    Verifier,
    VerifyPolicy,
)
from ecert_token.aio import AsyncVerifier
from ecert_token.keys.keydir import KeyDir

from .conftest import NOW
from .proxy import ReplyProxy
from .redis_server import RedisServer

with contextlib.suppress(ImportError):  # the fixtures skip (or fail) before these are used
    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

pytestmark = pytest.mark.redis

REG = BusinessType.HOSPITAL_REGISTRATION
STARTED = NOW - 3600
TIMEOUT = 0.3


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[ReplyProxy]:
    p = ReplyProxy(redis_server.port)
    yield p
    p.close()


def through(proxy: ReplyProxy) -> RedisReplayStore:
    return RedisReplayStore.from_url(proxy.url, max_lifetime=305, clock=FixedClock(STARTED),
                                     timeout=TIMEOUT)


def direct(server: RedisServer) -> RedisReplayStore:
    return RedisReplayStore.from_url(server.url, max_lifetime=305, clock=FixedClock(STARTED))


def verifier_on(keys: KeyDir, store: object, clock: FixedClock) -> Verifier:
    return Verifier(keys.trust_store(), VerifyPolicy(clock=clock), replay_store=store)  # type: ignore[arg-type]


def code_of(verifier: Verifier, token: str) -> ErrorCode | None:
    try:
        verifier.verify(token, REG)
    except TokenRejected as exc:
        return exc.code
    return None


def tokens(issuer: Issuer, credential: Credential, count: int) -> list[str]:
    return [issuer.mint(credential, REG) for _ in range(count)]


def warm(store: RedisReplayStore) -> None:
    """One check of an unrelated id: connection made, script loaded, groups agreed."""
    from ecert_token.replay import ReplayEntry

    store.check_and_mark(ReplayEntry("WARMUP", b"w", NOW, NOW + 60), NOW)


def lost_once(proxy: ReplyProxy, keys: KeyDir, clock: FixedClock, token: str) -> Verifier:
    """A verifier through the proxy whose answer for ``token`` was lost (it refused)."""
    store = through(proxy)
    warm(store)
    verifier = verifier_on(keys, store, clock)
    proxy.dropping = True
    assert code_of(verifier, token) is ErrorCode.STORE_UNAVAILABLE
    assert proxy.replies_dropped >= 1  # the server did answer: the mark was made
    proxy.dropping = False
    return verifier


def test_a_lost_reply_lets_the_same_verifier_accept_the_retry_once(
    redis_server: RedisServer, proxy: ReplyProxy, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    """Before the fix the retry read ``replayed``: the holder looked like a fraudster."""
    verifier = lost_once(proxy, keys, clock, token)
    other = verifier_on(keys, direct(redis_server), clock)
    assert code_of(other, token) is ErrorCode.REPLAYED  # the mark is there for everyone
    clock.advance(2)
    assert code_of(verifier, token) is None  # the holder's re-scan: accepted
    assert code_of(verifier, token) is ErrorCode.REPLAYED  # once
    assert code_of(other, token) is ErrorCode.REPLAYED
    assert code_of(verifier_on(keys, through(proxy), clock), token) is ErrorCode.REPLAYED


def test_a_client_resend_after_a_lost_reply_is_accepted(
    redis_server: RedisServer, proxy: ReplyProxy, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    """A client configured to resend a command whose connection broke (redis-py's
    ``retry_on_error``): the resend finds this very call's mark.  It used to answer
    REPLAYED (an honest code refused on its first scan)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    store = RedisReplayStore.from_url(
        proxy.url, max_lifetime=305, clock=FixedClock(STARTED), timeout=TIMEOUT,
        retry=Retry(NoBackoff(), 2), retry_on_error=[redis.ConnectionError],
    )
    warm(store)
    verifier = verifier_on(keys, store, clock)
    proxy.cut_next = 1  # the connection breaks with the script's answer in it
    assert code_of(verifier, token) is None
    assert proxy.replies_dropped == 1
    assert code_of(verifier_on(keys, direct(redis_server), clock), token) is ErrorCode.REPLAYED


def test_a_lost_batch_reply_lets_the_same_verifier_accept_the_retry_once(
    redis_server: RedisServer, proxy: ReplyProxy, keys: KeyDir, clock: FixedClock,
    *, issuer: Issuer, credential: Credential,
) -> None:
    batch = tokens(issuer, credential, 40)
    store = through(proxy)
    warm(store)
    verifier = verifier_on(keys, store, clock)
    proxy.dropping = True
    lost = verifier.verify_many(batch, REG)
    assert all(isinstance(r, StoreUnavailable) for r in lost)
    proxy.dropping = False
    other = verifier_on(keys, direct(redis_server), clock)
    stolen = other.verify_many(batch[:10], REG)  # a copy of some codes elsewhere
    assert all(isinstance(r, TokenRejected) and r.code is ErrorCode.REPLAYED for r in stolen)
    retry = verifier.verify_many(batch, REG)
    assert all(isinstance(r, VerifiedToken) for r in retry)
    again = verifier.verify_many(batch, REG)
    assert all(isinstance(r, TokenRejected) and r.code is ErrorCode.REPLAYED for r in again)
    assert verifier.attempts.remembered() == 0


def test_a_remembered_code_is_accepted_once_even_in_one_batch_twice(
    proxy: ReplyProxy, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    verifier = lost_once(proxy, keys, clock, token)
    first, second = verifier.verify_many([token, token], REG)
    assert isinstance(first, VerifiedToken)
    assert isinstance(second, TokenRejected) and second.code is ErrorCode.REPLAYED


def test_async_verifier_after_a_delayed_reply_and_a_lost_batch(
    redis_server: RedisServer, proxy: ReplyProxy, keys: KeyDir, clock: FixedClock,
    *, issuer: Issuer, credential: Credential, token: str,
) -> None:
    """The async verifier: a reply slower than ``store_timeout`` (the request did reach
    the server), then a batch whose answer is dropped; both retries accepted once."""
    batch = tokens(issuer, credential, 20)

    async def run() -> None:
        store = AsyncRedisReplayStore.from_url(proxy.url, max_lifetime=305,
                                               clock=FixedClock(STARTED), timeout=5)
        verifier = AsyncVerifier(verifier_on(keys, direct(redis_server), clock), store,
                                 store_timeout=0.3)
        await verifier.verify(issuer.mint(credential, REG), REG)  # connected, script loaded
        proxy.delay = 0.6
        with pytest.raises(StoreUnavailable):
            await verifier.verify(token, REG)
        await asyncio.sleep(0.8)  # let the delayed answer drain from the connection
        proxy.delay = 0.0
        proxy.dropping = True
        lost = await verifier.verify_many(batch, REG)
        assert all(isinstance(r, StoreUnavailable) for r in lost)
        proxy.dropping = False
        sync_other = verifier_on(keys, direct(redis_server), clock)
        assert code_of(sync_other, token) is ErrorCode.REPLAYED
        await store.aclose()
        store2 = AsyncRedisReplayStore.from_url(proxy.url, max_lifetime=305,
                                                clock=FixedClock(STARTED))
        again = AsyncVerifier(verifier.verifier, store2)
        assert isinstance(await again.verify(token, REG), VerifiedToken)
        with pytest.raises(TokenRejected) as info:
            await again.verify(token, REG)
        assert info.value.code is ErrorCode.REPLAYED
        retry = await again.verify_many(batch, REG)
        assert all(isinstance(r, VerifiedToken) for r in retry)
        replay = await again.verify_many(batch, REG)
        assert all(isinstance(r, TokenRejected) and r.code is ErrorCode.REPLAYED
                   for r in replay)
        await store2.aclose()

    asyncio.run(run())
