"""One deadline per store call on a single Redis: a frozen server (SIGSTOP) or a dead
one fails closed within the store's timeout, for verify and verify_many, sync and async."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import zlib
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    FixedClock,
    Issuer,
    StoreUnavailable,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import ReplayEntry

from .redis_cluster import DEADLINE, NOW, SLACK, wait_for
from .redis_server import RedisServer

with contextlib.suppress(ImportError):  # the fixture skips (or fails) before they are used
    import redis

    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

pytestmark = pytest.mark.redis

REG = BusinessType.HOSPITAL_REGISTRATION


def test_a_frozen_server_fails_closed_within_the_deadline(
    redis_server: RedisServer, keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    store = RedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                      clock=FixedClock(NOW - 3600), timeout=DEADLINE)
    store.begin_memory()
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)),
                        replay_store=store)
    tokens = [issuer.mint(credential, REG) for _ in range(64)]
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        results = verifier.verify_many(tokens, REG)
        assert time.monotonic() - started < DEADLINE + SLACK
        assert {type(r) for r in results} == {StoreUnavailable}

        async def one() -> None:
            aio = AsyncRedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                                 clock=FixedClock(NOW), timeout=DEADLINE,
                                                 cluster=False)
            try:
                await aio.check_and_mark(ReplayEntry("NHSA", b"frozen", NOW, NOW + 65), NOW)
            finally:
                await aio.aclose()

        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            asyncio.run(one())
        assert time.monotonic() - started < DEADLINE + SLACK
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    fresh = issuer.mint(credential, REG)
    assert verifier.verify(fresh, REG).claims.credential_id  # the server is back
    store.close()


def test_a_dead_server_fails_closed_at_once_and_fail_open_accepts(
    redis_server: RedisServer,
) -> None:
    closed = RedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                       clock=FixedClock(NOW - 3600), timeout=DEADLINE)
    open_ = RedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                      clock=FixedClock(NOW - 3600), timeout=DEADLINE,
                                      fail_open=True)
    closed.begin_memory()
    open_.begin_memory()
    redis_server.stop()
    entries = [ReplayEntry("NHSA", bytes([i]), NOW, NOW + 65) for i in range(4)]
    with pytest.raises(StoreUnavailable):
        closed.check_and_mark_many(entries, NOW)
    results = open_.check_and_mark_many([*entries, entries[0]], NOW)
    assert [r.value for r in results] == ["first_use"] * 4 + ["replayed"]
    closed.close()
    open_.close()


def test_replica_acks_on_one_server(redis_server: RedisServer, tmp_path: Path) -> None:
    """``?replica_acks=1`` on one server: a mark counts once its replica has it; with the
    replica gone the call fails closed at the deadline (WAIT times out)."""
    replica = RedisServer(tmp_path / "replica")
    replica.start()
    try:
        link = redis.Redis.from_url(replica.url)
        link.execute_command("REPLICAOF", "127.0.0.1", redis_server.port)
        wait_for(lambda: link.info("replication")["master_link_status"] == "up",
                 "the replica's first sync")
        link.close()
        store = RedisReplayStore.from_url(redis_server.url + "?replica_acks=1",
                                          max_lifetime=305, clock=FixedClock(NOW - 3600),
                                          timeout=DEADLINE)
        assert store.replica_acks == 1 and store.begin_memory() == NOW - 3600
        one = ReplayEntry("NHSA", b"acked", NOW, NOW + 65)
        assert store.check_and_mark(one, NOW).value == "first_use"
        replicated = redis.Redis.from_url(replica.url)
        assert replicated.exists(b"ecert:{%d}:NHSA:acked" % (zlib.crc32(b"acked") % 16)) == 1
        replicated.close()
        replica.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.check_and_mark(ReplayEntry("NHSA", b"unacked", NOW, NOW + 65), NOW)
        assert time.monotonic() - started < DEADLINE + SLACK
        store.close()
    finally:
        replica.stop()


def test_a_call_cancelled_from_outside_leaves_no_reply_for_the_next(
    redis_server: RedisServer,
) -> None:
    """AsyncVerifier's store_timeout cancels a store call mid-read: that connection
    must not go back to the pool with the reply still due, or the next call would read
    the cancelled call's answer (here: an answer of the wrong length)."""

    async def run() -> list[str]:
        store = AsyncRedisReplayStore.from_url(redis_server.url, max_lifetime=305,
                                               clock=FixedClock(NOW - 3600), timeout=5.0)
        try:
            await store.begin_memory()
            assert redis_server.process is not None
            redis_server.process.send_signal(signal.SIGSTOP)
            two = [ReplayEntry("NHSA", b"cancelled-%d" % i, NOW, NOW + 65) for i in (0, 8)]
            try:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(store.check_and_mark_many(two, NOW), 0.3)
            finally:
                redis_server.process.send_signal(signal.SIGCONT)
            one = ReplayEntry("NHSA", b"next", NOW, NOW + 65)
            first = await store.check_and_mark_many([one], NOW)  # a stale reply: 2 codes
            again = await store.check_and_mark_many([one], NOW)
            return [r.value for r in first + again]
        finally:
            await store.aclose()

    assert asyncio.run(run()) == ["first_use", "replayed"]
