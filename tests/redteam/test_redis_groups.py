"""Two Redis stores on one server and prefix must agree on where an id lives.

The key group of an id is ``crc32(token id) % groups``: a service built with
``groups=1`` (one script call per batch, as the docs suggest) and one with the
default 16 file the same id under different keys, so a code used at one is accepted
again at the other.  A store must refuse to work beside a different group count."""

from __future__ import annotations

import asyncio

import pytest

from ecert_token import FixedClock, StoreUnavailable
from ecert_token.replay import MarkResult, ReplayEntry
from tests.replay.redis_server import REDIS_NOW as NOW
from tests.replay.redis_server import RedisServer

pytestmark = pytest.mark.redis
USED = ReplayEntry("NHSA", b"\x00" * 7 + b"\x05", NOW, NOW + 65)


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return redis_server.url


def test_stores_with_other_group_counts_cannot_both_accept_one_id(url: str) -> None:
    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

    clock = FixedClock(NOW - 3600)
    sixteen = RedisReplayStore.from_url(url, clock=clock)
    one = RedisReplayStore.from_url(url, clock=clock, groups=1)
    assert sixteen.check_and_mark(USED, NOW) is MarkResult.FIRST_USE
    with pytest.raises(StoreUnavailable) as info:
        one.check_and_mark(USED, NOW)
    assert "group" in str(info.value)
    with pytest.raises(StoreUnavailable):  # fail_open is for outages, not for this
        RedisReplayStore.from_url(url, clock=clock, groups=1, fail_open=True).check_and_mark_many(
            [USED], NOW
        )
    assert RedisReplayStore.from_url(url, clock=clock).check_and_mark(USED, NOW) is (
        MarkResult.REPLAYED
    )
    other_prefix = RedisReplayStore.from_url(url, clock=clock, groups=1, prefix="site7")
    assert other_prefix.check_and_mark(USED, NOW) is MarkResult.FIRST_USE  # its own namespace

    async def async_one() -> None:
        store = AsyncRedisReplayStore.from_url(url, clock=clock, groups=1)
        try:
            with pytest.raises(StoreUnavailable):
                await store.check_and_mark(USED, NOW)
        finally:
            await store.aclose()

    asyncio.run(async_one())
    for store in (sixteen, one, other_prefix):
        store.close()
