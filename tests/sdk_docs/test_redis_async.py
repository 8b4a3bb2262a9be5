"""AsyncVerifier and the FastAPI example on a real redis-server (redis.asyncio store)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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
from ecert_token.aio import AsyncReplayStore, AsyncVerifier
from ecert_token.keys.keydir import KeyDir
from tests.replay.redis_server import REDIS_NOW as NOW
from tests.replay.redis_server import REQUIRE_ENV, RedisServer, redis_missing, redis_required

from .examples import load


@pytest.fixture
def clock() -> FixedClock:
    """The tests' clock at REDIS_NOW: Redis decides its horizon by its own clock."""
    return FixedClock(NOW)

REG = BusinessType.HOSPITAL_REGISTRATION


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on loopback (skip without one, fail under ECERT_REQUIRE_REDIS=1)."""
    reason = redis_missing()
    if reason is not None:
        if redis_required():
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the Redis tests")
        pytest.skip(reason)
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def running_redis_store(url: str) -> AsyncReplayStore:
    """The async Redis store, dating a new memory an hour before NOW.

    The store's clock only dates the marker Redis sets on a key group's first
    check; fixed an hour back, every group's memory began before the tokens
    of these tests, as in a region whose Redis has been running.
    """
    from ecert_token.replay.redis import AsyncRedisReplayStore

    store: AsyncReplayStore = AsyncRedisReplayStore.from_url(
        url, max_lifetime=305, clock=lambda: NOW - 3600
    )
    return store


def async_verifier(keys: KeyDir, clock: FixedClock, url: str) -> AsyncVerifier:
    policy = VerifyPolicy(clock=clock)
    return AsyncVerifier(Verifier(keys.trust_store(), policy), running_redis_store(url))


def test_replay_is_shared_between_verifiers(
    keys: KeyDir, clock: FixedClock, redis_url: str, issuer: Issuer, credential: Credential
) -> None:
    a, b = issuer.mint(credential, REG), issuer.mint(credential, REG)

    async def run() -> list[VerifiedToken | TokenRejected]:
        first = async_verifier(keys, clock, redis_url)
        second = async_verifier(keys, clock, redis_url)
        try:
            await first.verify(a, REG)
            with pytest.raises(TokenRejected) as err:
                await second.verify(a, REG)  # another instance, same Redis
            assert err.value.code is ErrorCode.REPLAYED
            return await second.verify_many([b, a, b, "EC1:"], REG)
        finally:
            for v in (first, second):
                await v.replay_store.aclose()  # type: ignore[attr-defined]

    outcomes = asyncio.run(run())
    assert isinstance(outcomes[0], VerifiedToken)
    codes = [o.code if isinstance(o, TokenRejected) else None for o in outcomes]
    assert codes == [None, ErrorCode.REPLAYED, ErrorCode.REPLAYED, ErrorCode.MALFORMED]


def test_redis_down_fails_closed(
    keys: KeyDir, clock: FixedClock, tmp_path: Path, token: str
) -> None:
    reason = redis_missing()
    if reason is not None and not redis_required():
        pytest.skip(reason)
    server = RedisServer(tmp_path / "redis")
    server.start()
    url = server.url
    server.stop()  # a Redis that is gone

    async def run() -> None:
        verifier = async_verifier(keys, clock, url)
        try:
            await verifier.verify(token, REG)
        finally:
            await verifier.replay_store.aclose()  # type: ignore[attr-defined]

    with pytest.raises(StoreUnavailable):
        asyncio.run(run())


def test_fastapi_instances_share_redis(
    key_dir: Path, clock: FixedClock, redis_url: str, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from ecert_token.replay.redis import AsyncRedisReplayStore

    service: ModuleType = load("fastapi_service/app.py", "ecert_example_service_redis")
    monkeypatch.setenv("ECERT_KEYS", str(key_dir))
    monkeypatch.setenv("ECERT_REDIS_URL", redis_url)
    with TestClient(service.create_app(clock=clock)) as configured:
        assert isinstance(configured.app.state.verifier.replay_store, AsyncRedisReplayStore)
    body = {"token": token, "business_type": "01101"}
    one_app = service.create_app(replay_store=running_redis_store(redis_url), clock=clock)
    two_app = service.create_app(replay_store=running_redis_store(redis_url), clock=clock)
    with TestClient(one_app) as one, TestClient(two_app) as two:
        assert one.post("/verify", json=body).status_code == 200
        again = two.post("/verify", json=body)  # another instance of the service
    assert again.status_code == 409
    assert again.json()["error"] == "replayed"
