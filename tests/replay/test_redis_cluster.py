"""The Redis store on a real 6-node Redis Cluster: URL forms, replay init, eviction check
on every master, 8 processes racing, and resharding while processes verify."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
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
from ecert_token.replay import MarkResult, ReplayEntry

from .redis_cluster import NOW, Cluster, begun_store, started_cluster
from .redis_server import free_port
from .test_processes import write_tokens
from .verifier_process import EVERY_GROUP, Outcome, go, race, spawn

with contextlib.suppress(ImportError):  # the fixture skips (or fails) before they are used
    from ecert_token.replay.redis import AsyncRedisReplayStore, RedisReplayStore

pytestmark = pytest.mark.redis

REG = BusinessType.HOSPITAL_REGISTRATION
FIRST, REPLAYED = MarkResult.FIRST_USE, MarkResult.REPLAYED


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from started_cluster(tmp_path_factory.mktemp("cluster"))


def entry(token_id: bytes, issuer: str = "NHSA") -> ReplayEntry:
    return ReplayEntry(issuer, token_id, NOW, NOW + 65)


def store_on(url: str, prefix: str, **options: object) -> RedisReplayStore:
    store: RedisReplayStore = begun_store(url, prefix, **options)
    return store


def test_any_node_url_is_detected_as_a_cluster_and_marks_each_id_once(
    cluster: Cluster,
) -> None:
    """Every node (masters and replicas) works as the URL; marks land on the masters."""
    ids = [i.to_bytes(8, "big") for i in range(64)]  # every key group, so every master
    stores = [store_on(url, "any") for url in cluster.urls]
    try:
        first = stores[0].check_and_mark_many([entry(i) for i in ids], NOW)
        assert first == [FIRST] * 64 and stores[0].is_cluster is True
        assert stores[0].replica_acks == 1  # the safe default for a cluster with replicas
        assert all(store.healthy() for store in stores)  # PING to every master
        for store in stores:  # each node as seed, each id already used
            assert store.check_and_mark_many([entry(i) for i in ids], NOW) == [REPLAYED] * 64
            assert store.check_and_mark(entry(b"per-store" + store.client.connection_pool
                                              .connection_kwargs["port"].to_bytes(4, "big")),
                                        NOW) is FIRST
        holding = {m.port for m in cluster.masters_now()
                   if m.client().keys("any:*") != []}
        assert len(holding) == 3  # sixteen key groups spread over the three masters
    finally:
        for store in stores:
            store.close()


def test_cluster_true_in_the_url_skips_detection_and_is_removed(cluster: Cluster) -> None:
    store = RedisReplayStore.from_url(cluster.urls[1] + "?cluster=true", max_lifetime=305,
                                      clock=FixedClock(NOW - 3600), prefix="flag")
    try:
        assert store.is_cluster is True
        assert store.begin_memory() == NOW - 3600
        assert store.check_and_mark(entry(b"flagged"), NOW) is FIRST
        assert store.check_and_mark(entry(b"flagged"), NOW) is REPLAYED
    finally:
        store.close()


def test_seeds_find_the_cluster_when_the_url_node_is_down(cluster: Cluster) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    url = f"{dead}?seeds=127.0.0.1:{cluster.nodes[1].port},127.0.0.1:{cluster.nodes[2].port}"
    store = RedisReplayStore.from_url(url, max_lifetime=305, clock=FixedClock(NOW - 3600),
                                      prefix="seeds")

    async def asynchronously() -> list[MarkResult]:
        aio = AsyncRedisReplayStore.from_url(url, max_lifetime=305, clock=FixedClock(NOW),
                                             prefix="seeds")
        try:
            return await aio.check_and_mark_many([entry(i) for i in EVERY_GROUP], NOW)
        finally:
            await aio.aclose()

    try:
        assert store.begin_memory() == NOW - 3600
        assert store.check_and_mark_many([entry(i) for i in EVERY_GROUP], NOW) == [FIRST] * 64
        assert asyncio.run(asynchronously()) == [REPLAYED] * 64
    finally:
        store.close()


def test_the_plain_url_of_one_node_without_detection_fails_closed(cluster: Cluster) -> None:
    """``?cluster=false`` on a cluster node: keys of other masters answer MOVED, which a
    single-server store does not follow: store_unavailable, never a redis-py exception."""
    store = RedisReplayStore.from_url(cluster.urls[0] + "?cluster=false", max_lifetime=305,
                                      clock=FixedClock(NOW), prefix="plain")
    try:
        with pytest.raises(StoreUnavailable):
            store.check_and_mark_many([entry(i) for i in EVERY_GROUP], NOW)
    finally:
        store.close()


def test_async_store_on_a_cluster(cluster: Cluster) -> None:
    async def run() -> tuple[list[MarkResult], list[MarkResult], int]:
        store = AsyncRedisReplayStore.from_url(cluster.urls[4], max_lifetime=305,
                                               clock=FixedClock(NOW - 3600), prefix="aio")
        try:
            began = await store.begin_memory()
            ids = [entry(i) for i in EVERY_GROUP]
            return (await store.check_and_mark_many(ids, NOW),
                    await store.check_and_mark_many(ids, NOW), began)
        finally:
            await store.aclose()

    first, second, began = asyncio.run(run())
    assert began == NOW - 3600
    assert first == [FIRST] * 64 and second == [REPLAYED] * 64


def test_replay_init_and_verify_on_the_cli(cluster: Cluster, keydir_path: Path) -> None:
    def ecert(*args: str) -> dict[str, object]:
        proc = subprocess.run([sys.executable, "-m", "ecert_token.cli.main", *args],
                              capture_output=True, text=True, timeout=60, check=False)
        import json

        result: dict[str, object] = json.loads(proc.stdout)
        return result

    url = cluster.urls[3]  # a replica's address: the store still finds the masters
    began = ecert("replay", "init", "--replay-redis", url, "--now", str(NOW - 3600))
    assert began["memory_began"] == NOW - 3600
    markers = [k for m in cluster.masters_now() for k in m.client().keys("ecert:*!began")]
    assert len(markers) == 16
    token = subprocess.run(
        [sys.executable, "-m", "ecert_token.cli.main", "mint", "--keys", str(keydir_path),
         "--cert-id", "E4Q7ZK2M9PXA", "--region", "110105", "--business", "01101",
         "--now", str(NOW)], capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    verify = ("verify", "--keys", str(keydir_path), "--business", "01101",
              "--replay-redis", url, "--now", str(NOW + 5), token)
    first, second = ecert(*verify), ecert(*verify)
    assert first["replay_checked"] is True
    assert second["error"] == "replayed"


def test_eviction_policy_is_asked_of_every_master(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    last = cluster.masters_now()[-1]
    client = last.client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", "100mb")
    try:
        store = RedisReplayStore.from_url(cluster.urls[0], max_lifetime=305,
                                          clock=FixedClock(NOW - 3600), prefix="evict")
        with caplog.at_level(logging.WARNING, logger="ecert_token.replay.redis"):
            store.check_and_mark(entry(b"evict"), NOW)
        warned = [r for r in caplog.records if "may evict live replay ids" in r.getMessage()]
        assert len(warned) == 1
        check = store.check_eviction_policy()
        assert (check.policy, check.safe) == ("allkeys-lru", False)
        client.config_set("maxmemory-policy", "noeviction")
        assert store.check_eviction_policy().safe is True
        store.close()
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "0")
        client.close()


def test_verifier_batch_on_a_cluster(cluster: Cluster, keys: KeyDir, issuer: Issuer,
                                     credential: Credential) -> None:
    store = store_on(cluster.urls[2], "batch")
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)),
                        replay_store=store)
    tokens = [issuer.mint(credential, REG) for _ in range(40)]
    try:
        first = verifier.verify_many(tokens + tokens[:5], REG)
        assert [type(r).__name__ for r in first[:40]] == ["VerifiedToken"] * 40
        assert {r.code.value for r in first[40:]} == {"replayed"}  # type: ignore[union-attr]
        again = verifier.verify_many(tokens, REG)
        assert {r.code.value for r in again} == {"replayed"}  # type: ignore[union-attr]
    finally:
        store.close()


def test_eight_processes_race_on_1000_codes(
    cluster: Cluster, keydir_path: Path, tmp_path: Path, issuer: Issuer, credential: Credential
) -> None:
    spec = f"redis:{cluster.urls[5]}"
    tokens_file = tmp_path / "tokens.txt"
    write_tokens(tokens_file, issuer, credential, 1000)
    store_on(cluster.urls[5], "ecert").close()  # memory began an hour ago (STARTED)
    outcomes = race(keydir_path, tokens_file, spec, NOW, processes=8)
    accepted = Counter(i for o in outcomes for i in o.accepted)
    assert sorted(accepted) == list(range(1000))
    assert set(accepted.values()) == {1}
    codes = Counter(code for o in outcomes for code in o.rejected.values())
    assert codes == {"replayed": 7000}


def test_resharding_while_processes_verify(
    cluster: Cluster, keydir_path: Path, tmp_path: Path, issuer: Issuer, credential: Credential
) -> None:
    """Slots of the key groups move to another master (MIGRATING/IMPORTING, MIGRATE,
    SETSLOT NODE) while 4 processes verify the same 600 codes: ASK and TRYAGAIN on the
    way, no code accepted twice, nothing but library rejections."""
    spec = f"redis:{cluster.urls[0]}"
    tokens_file = tmp_path / "tokens.txt"
    write_tokens(tokens_file, issuer, credential, 600)
    store_on(cluster.urls[0], "ecert").close()
    moved: list[int] = []
    failures: list[BaseException] = []

    def reshard() -> None:
        try:
            moved.extend(cluster.move_group_slots(prefix="ecert", groups=range(16), pause=0.01))
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    children = [spawn(keydir_path, tokens_file, spec, NOW, seed=seed) for seed in range(4)]
    for child in children:
        go(child)
    mover = threading.Thread(target=reshard)  # while they verify
    mover.start()
    outcomes = [collect(child) for child in children]
    mover.join()
    assert failures == [] and len(moved) == 16
    accepted = Counter(i for o in outcomes for i in o.accepted)
    assert set(accepted.values()) <= {1}
    codes = Counter(code for o in outcomes for code in o.rejected.values())
    assert set(codes) <= {"replayed", "store_unavailable"}
    assert sum(accepted.values()) + codes["replayed"] + codes["store_unavailable"] == 2400
    cluster.wait_until_healthy()
    # after the move every code is used, and known as such on its new master
    store = store_on(cluster.urls[0], "ecert")
    try:
        again = Verifier(_trust(keydir_path), VerifyPolicy(clock=FixedClock(NOW)),
                         replay_store=store)
        results = again.verify_many(tokens_file.read_text().splitlines(), REG)
        used = [i for i, r in enumerate(results) if getattr(r, "code", None) is not None
                and r.code.value == "replayed"]  # type: ignore[union-attr]
        assert set(accepted) <= set(used)
    finally:
        store.close()


def collect(child: subprocess.Popen[str]) -> Outcome:
    out, _ = child.communicate(timeout=120)
    outcome = Outcome()
    for line in out.splitlines():
        outcome.read(line)
    assert child.returncode == 0 and outcome.done  # no exception escaped the verifier
    return outcome


def _trust(keydir_path: Path):  # type: ignore[no-untyped-def]
    from ecert_token.keys.keydir import load

    return load(keydir_path).trust_store()


def test_constructor_checks_its_cluster_options(cluster: Cluster) -> None:
    import redis

    from ecert_token import InvalidArgument

    routed = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    try:
        with pytest.raises(InvalidArgument):
            RedisReplayStore(routed)  # type: ignore[arg-type]
    finally:
        routed.close()
    client = cluster.nodes[0].client()
    for bad in ({"replica_acks": -1}, {"replica_acks": True}, {"timeout": 0},
                {"cluster": "yes"}):
        with pytest.raises(InvalidArgument):
            RedisReplayStore(client, **bad)  # type: ignore[arg-type]
    store = RedisReplayStore(client, 305, FixedClock(NOW - 3600), prefix="ctor", cluster=True)
    assert store.begin_memory() == NOW - 3600 and store.replica_acks == 1
    store.close()


def test_async_verifier_batch_on_a_cluster(
    cluster: Cluster, keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    from ecert_token.aio import AsyncVerifier

    tokens = [issuer.mint(credential, REG) for _ in range(48)]

    async def run() -> tuple[list[str], list[str]]:
        store = AsyncRedisReplayStore.from_url(cluster.urls[3], max_lifetime=305,
                                               clock=FixedClock(NOW - 3600), prefix="averify")
        await store.begin_memory()
        verifier = AsyncVerifier(
            Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW))),
            replay_store=store,
        )
        try:
            first = await verifier.verify_many(tokens + tokens[:2], REG)
            second = await verifier.verify_many(tokens, REG)
            return ([type(r).__name__ if type(r).__name__ == "VerifiedToken"
                     else r.code.value for r in first],  # type: ignore[union-attr]
                    [r.code.value for r in second])  # type: ignore[union-attr]
        finally:
            await store.aclose()

    first, second = asyncio.run(run())
    assert first == ["VerifiedToken"] * 48 + ["replayed"] * 2
    assert second == ["replayed"] * 48
