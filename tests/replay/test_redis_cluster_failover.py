"""Failover on a real Redis Cluster: a lagging replica promoted, an automatic failover
under a deadline, and the whole cluster down.

The lag is real: the replica's replication link is cut and kept down (its ACL user
may no longer SYNC/PSYNC on the master), codes are marked, the master is SIGKILLed
and the replica takes over (``CLUSTER FAILOVER TAKEOVER``).  With ``replica_acks=0``
the promoted replica has lost the marks and accepts every code again (the defect);
with the default settings for a cluster with replicas (``replica_acks=1``) no code
is accepted before a replica holds its mark, so none is accepted twice.

The tests run in file order on one cluster, each taking one shard down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

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
from ecert_token.replay import MarkResult, ReplayEntry

from .redis_cluster import (
    DEADLINE,
    NOW,
    SLACK,
    Cluster,
    begun_store,
    replay_ids,
    started_cluster,
    wait_for,
)

with contextlib.suppress(ImportError):  # the fixture skips (or fails) before they are used
    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

pytestmark = pytest.mark.redis

REG = BusinessType.HOSPITAL_REGISTRATION
FIRST, REPLAYED = MarkResult.FIRST_USE, MarkResult.REPLAYED


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from started_cluster(tmp_path_factory.mktemp("cluster"))


def store_for(cluster: Cluster, prefix: str, **options: object) -> RedisReplayStore:
    seed = next(node for node in cluster.nodes if node.alive())
    store: RedisReplayStore = begun_store(seed.url, prefix, timeout=DEADLINE, **options)
    return store


def entries(name: str, count: int, groups: set[int] | None = None) -> list[ReplayEntry]:
    return replay_ids(name, count, NOW, groups)


def test_without_replica_acks_a_lagging_promoted_replica_accepts_codes_again(
    cluster: Cluster,
) -> None:
    """The defect, reproduced: every code accepted while the replica lagged is
    accepted again after the failover."""
    master, replica = cluster.master_with_replica()
    prefix, groups = master.address.replace(":", "-"), cluster.groups_on(master)
    store = store_for(cluster, prefix, replica_acks=0)
    try:
        cluster.cut_replication(master, replica)
        codes = entries(prefix, 100, groups)
        assert store.check_and_mark_many(codes, NOW) == [FIRST] * 100
        cluster.take_over(master, replica)
        cluster.wait_until_healthy()
        assert store.check_and_mark_many(codes, NOW) == [FIRST] * 100  # accepted twice
    finally:
        store.close()


def test_with_default_settings_no_code_is_accepted_twice_across_the_failover(
    cluster: Cluster, keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    master, replica = cluster.master_with_replica()
    prefix, groups = master.address.replace(":", "-"), cluster.groups_on(master)
    store = store_for(cluster, prefix)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)),
                        replay_store=store)
    try:
        assert store.replica_acks == 1
        before = entries(prefix + "-acked", 50, groups)
        assert store.check_and_mark_many(before, NOW) == [FIRST] * 50  # a replica has them
        cluster.cut_replication(master, replica)
        codes = entries(prefix, 100, groups)
        with pytest.raises(StoreUnavailable):  # no replica confirms: fail closed
            store.check_and_mark_many(codes, NOW)
        tokens = [issuer.mint(credential, REG) for _ in range(40)]  # some on that master
        results = verifier.verify_many(tokens, REG)  # the same through the verifier
        assert {type(r) for r in results} <= {StoreUnavailable}
        cluster.take_over(master, replica)
        cluster.wait_until_healthy()
        accepted_after = store.check_and_mark_many(codes, NOW)
        assert accepted_after == [FIRST] * 100  # the first and only acceptance
        assert store.check_and_mark_many(before, NOW) == [REPLAYED] * 50  # not lost
        assert store.check_and_mark_many(codes, NOW) == [REPLAYED] * 100
    finally:
        store.close()


def test_one_deadline_holds_during_an_automatic_failover(cluster: Cluster) -> None:
    master, replica = cluster.master_with_replica()
    prefix, groups = master.address.replace(":", "-"), cluster.groups_on(master)
    store = store_for(cluster, prefix)
    try:
        acked = entries(prefix + "-acked", 20, groups)
        assert store.check_and_mark_many(acked, NOW) == [FIRST] * 20
        seed = next(n for n in cluster.nodes if n.alive() and n is not master)
        cluster.kill(master)  # the replica's link was up: the cluster fails over by itself

        async def asynchronously() -> None:
            aio = AsyncRedisReplayStore.from_url(seed.url, max_lifetime=305,
                                                 clock=FixedClock(NOW), prefix=prefix,
                                                 timeout=DEADLINE)
            try:
                started = time.monotonic()
                with pytest.raises(StoreUnavailable):
                    await aio.check_and_mark_many(entries(prefix + "-aio", 16, groups), NOW)
                assert time.monotonic() - started < DEADLINE + SLACK
            finally:
                await aio.aclose()

        asyncio.run(asynchronously())  # both within the failover (node timeout 5 s)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.check_and_mark_many(entries(prefix, 64, groups), NOW)
        assert time.monotonic() - started < DEADLINE + SLACK
        assert not store.healthy()  # a master is down, not yet replaced
        wait_for(lambda: cluster.role(replica) == "master", "the automatic failover")
        cluster.wait_until_healthy()
        assert store.healthy()  # it reads the new map: the promoted replica answers
        assert store.check_and_mark_many(acked, NOW) == [REPLAYED] * 20
        assert store.check_and_mark_many(entries(prefix + "-new", 8, groups), NOW) == [FIRST] * 8
    finally:
        store.close()


def test_whole_cluster_down_fails_closed_within_the_deadline(
    cluster: Cluster, keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    closed = store_for(cluster, "down")
    fail_open = store_for(cluster, "down-open", fail_open=True)
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)),
                        replay_store=closed)
    tokens = [issuer.mint(credential, REG) for _ in range(20)]
    seed = next(node for node in cluster.nodes if node.alive())

    async def asynchronously() -> None:
        store = AsyncRedisReplayStore.from_url(seed.url, max_lifetime=305,
                                               clock=FixedClock(NOW - 3600), prefix="adown",
                                               timeout=DEADLINE)
        try:
            await store.begin_memory()  # it knows the cluster, then the cluster goes
            cluster.stop()
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.check_and_mark_many(entries("adown", 16), NOW)
            assert time.monotonic() - started < DEADLINE + SLACK
        finally:
            await store.aclose()

    asyncio.run(asynchronously())
    assert all(not node.alive() for node in cluster.nodes)
    started = time.monotonic()
    assert not closed.healthy()
    assert time.monotonic() - started < DEADLINE + SLACK

    started = time.monotonic()
    results = verifier.verify_many(tokens, REG)
    assert time.monotonic() - started < DEADLINE + SLACK
    assert {type(r) for r in results} == {StoreUnavailable}
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        verifier.verify(issuer.mint(credential, REG), REG)
    assert time.monotonic() - started < DEADLINE + SLACK

    codes = entries("down-open", 5)  # fail open: accepted without a check, repeats refused
    assert fail_open.check_and_mark_many(codes + codes[:1], NOW) == [FIRST] * 5 + [REPLAYED]
    for store in (closed, fail_open):
        store.close()
