"""The Redis store against a real redis-server: keys, expiry, fencing, failures, eviction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    InvalidArgument,
    Issuer,
    StoreUnavailable,
    TokenRejected,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, ReplayEntry

from .conftest import NOW
from .redis_server import RedisServer
from .verifier_process import EVERY_GROUP, begin_memory

try:  # the fixtures skip (or fail under ECERT_REQUIRE_REDIS=1) before these are used
    import redis
    from redis.crc import key_slot

    from ecert_token.replay.redis import (
        AsyncRedisReplayStore,
        RedisReplayStore,
        eviction_check,
    )
except ImportError:
    pass

pytestmark = pytest.mark.redis

REG = BusinessType.HOSPITAL_REGISTRATION
FIRST, REPLAYED, FENCED = MarkResult.FIRST_USE, MarkResult.REPLAYED, MarkResult.FENCED
LEEWAY = VerifyPolicy().leeway


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()


@pytest.fixture
def store(redis_server: RedisServer, clock: FixedClock) -> Iterator[RedisReplayStore]:
    s = RedisReplayStore.from_url(redis_server.url, max_lifetime=305, clock=clock)
    yield s
    s.close()


def entry(token_id: bytes, issued: int = NOW, expires: int = NOW + 65) -> ReplayEntry:
    return ReplayEntry("NHSA", token_id, issued, expires)


def verifier_on(keys: KeyDir, store: object, clock: FixedClock) -> Verifier:
    assert isinstance(store, RedisReplayStore)
    return Verifier(keys.trust_store(), VerifyPolicy(clock=clock), replay_store=store)


def rejection(verifier: Verifier, token: str) -> ErrorCode:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, REG)
    return info.value.code


def assert_memory_began_at(
    began: int, verifier: Verifier, clock: FixedClock, issuer: Issuer, credential: Credential
) -> None:
    """Tokens issued up to one leeway after ``began`` are fenced (an issuer clock that
    far ahead means they could have been used before the memory began); one issued a
    second later is accepted, once.  Leaves the verifier's clock at ``began + 1``."""
    clock.now = began
    edge = issuer.mint(credential, REG, now=began + LEEWAY)
    assert rejection(verifier, edge) is ErrorCode.POSSIBLY_REPLAYED
    fresh = issuer.mint(credential, REG, now=began + LEEWAY + 1)
    clock.now = began + 1  # the first second at which `fresh` is valid
    verifier.verify(fresh, REG)
    assert rejection(verifier, fresh) is ErrorCode.REPLAYED
    assert rejection(verifier, edge) is ErrorCode.POSSIBLY_REPLAYED


def test_keys_of_one_call_share_a_cluster_slot(
    store: RedisReplayStore, client: redis.Redis
) -> None:
    ids = [i.to_bytes(8, "big") for i in range(64)]
    assert store.check_and_mark_many([entry(i) for i in ids], NOW) == [FIRST] * 64
    keys = [k for k in client.scan_iter(match=b"ecert:{*")
            if not k.endswith((b":!began", b":!terms"))]
    assert sorted(k.rsplit(b":NHSA:", 1)[1] for k in keys) == ids
    groups = {k.split(b":")[1] for k in keys}
    assert len(groups) > 4  # spread over several slots (shards of a cluster)
    for key in keys:
        tag = key.split(b":")[1]
        marker = b"ecert:" + tag + b":!began"
        assert client.get(marker) == str(NOW).encode()
        assert key_slot(key) == key_slot(marker) == key_slot(marker[:-5] + b"terms")


def test_expiry_is_absolute_and_never_extended(client: redis.Redis) -> None:
    now = int(client.time()[0])  # the server's own clock, so EXPIRETIME is predictable
    store = RedisReplayStore(client, 305, FixedClock(now - 3600))
    first = entry(b"expiry-1", issued=now, expires=now + 65)
    assert store.check_and_mark(first, now) is FIRST
    key = next(k for k in client.scan_iter(match=b"*:NHSA:expiry-1"))
    expiretime = client.expiretime(key)
    # Kept one skew (the leeway) and a second past the entry's expiry: see the script.
    assert now + 65 + LEEWAY + 1 <= expiretime <= now + 65 + LEEWAY + 2  # +1: a second ticked
    later = entry(b"expiry-1", issued=now, expires=now + 300)
    assert store.check_and_mark(later, now + 10) is REPLAYED
    assert store.check_and_mark_many([later], now + 20) == [REPLAYED]
    assert client.expiretime(key) == expiretime


def test_a_verifier_clock_behind_the_server_does_not_shorten_expiry(
    store: RedisReplayStore, client: redis.Redis
) -> None:
    # The verifier runs 1,000 s behind the server: the id must still live its 65 s (and
    # one skew more) by the server's clock, though its absolute expiry is long past there.
    behind = int(client.time()[0]) - 1000
    skewed = entry(b"skewed-1", issued=behind - 3000, expires=behind + 65)
    with_skew = RedisReplayStore(client, 305, FixedClock(behind - 3600), skew=2000)
    assert with_skew.check_and_mark(skewed, behind) is FIRST
    key = next(k for k in client.scan_iter(match=b"*:NHSA:skewed-1"))
    assert 65 + 2000 <= client.ttl(key) <= 65 + 2001
    assert with_skew.check_and_mark(skewed, behind + 1) is REPLAYED


def test_flushall_fences_tokens_used_before(
    store: RedisReplayStore,
    keys: KeyDir,
    clock: FixedClock,
    token: str,
    *,
    redis_server: RedisServer,
    issuer: Issuer,
    credential: Credential,
    caplog: pytest.LogCaptureFixture,
) -> None:
    begin_memory(f"redis:{redis_server.url}", NOW - 3600)  # it has served for an hour
    verifier = verifier_on(keys, store, clock)
    verifier.verify(token, REG)
    store.client.flushall()
    clock.advance(1)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ecert_token.replay.redis"):
        assert rejection(verifier, token) is ErrorCode.POSSIBLY_REPLAYED
        store.check_and_mark_many([entry(i) for i in EVERY_GROUP], NOW + 1)
    began = [r for r in caplog.records if "memory began" in r.getMessage()]
    assert len(began) == 1  # one warning, not one per key group
    markers = list(store.client.scan_iter(match=b"ecert:*:!began"))
    assert len(markers) == 16
    assert {store.client.get(m) for m in markers} == {str(NOW + 1).encode()}
    assert_memory_began_at(NOW + 1, verifier, clock, issuer, credential)


def test_restart_fences_tokens_used_before(
    redis_server: RedisServer,
    keys: KeyDir,
    clock: FixedClock,
    issuer: Issuer,
    credential: Credential,
) -> None:
    store = RedisReplayStore.from_url(redis_server.url, max_lifetime=305, clock=clock)
    begin_memory(f"redis:{redis_server.url}", NOW - 3600)  # it has served for an hour
    verifier = verifier_on(keys, store, clock)
    used = issuer.mint(credential, REG)
    verifier.verify(used, REG)
    redis_server.restart()  # no persistence: every id and the marker are gone
    clock.advance(3)
    assert rejection(verifier, used) is ErrorCode.POSSIBLY_REPLAYED
    # Other terminals' traffic in the restart's first second begins every key group's memory.
    begin_memory(f"redis:{redis_server.url}", NOW + 3)
    assert_memory_began_at(NOW + 3, verifier, clock, issuer, credential)
    assert rejection(verifier, used) is ErrorCode.POSSIBLY_REPLAYED
    store.close()


def test_a_stopped_server_fails_closed(
    redis_server: RedisServer, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    store = RedisReplayStore.from_url(redis_server.url, max_lifetime=305, clock=clock)
    redis_server.stop()
    assert rejection(verifier_on(keys, store, clock), token) is ErrorCode.STORE_UNAVAILABLE
    with pytest.raises(StoreUnavailable):
        store.check_and_mark_many([entry(b"batch-01"), entry(b"batch-02")], NOW)
    store.close()


def test_fail_open_is_explicit_and_logged_without_token_data(
    redis_server: RedisServer,
    keys: KeyDir,
    clock: FixedClock,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RedisReplayStore.from_url(
        redis_server.url, max_lifetime=305, clock=clock, fail_open=True
    )
    verifier = verifier_on(keys, store, clock)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="ecert_token.replay.redis"):
        verifier.verify(token, REG)
        verifier.verify(token, REG)  # no replay protection while Redis is down
    warnings = [r for r in caplog.records if "WITHOUT replay protection" in r.getMessage()]
    assert len(warnings) == 1  # one warning per outage, not one per token
    token_id = verifier.check(token, REG, now=NOW).claims.token_id
    assert token not in caplog.text and token_id.hex() not in caplog.text
    store.close()


def test_a_full_redis_under_noeviction_fails_closed(
    store: RedisReplayStore, client: redis.Redis
) -> None:
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")
    with pytest.raises(StoreUnavailable):
        store.check_and_mark(entry(b"no-room1"), NOW)
    client.config_set("maxmemory", "0")
    assert store.check_and_mark(entry(b"no-room1"), NOW) is FIRST


@pytest.mark.parametrize(
    ("policy", "maxmemory", "safe"),
    [
        ("noeviction", "0", True),
        ("noeviction", "100mb", True),
        ("allkeys-lru", "0", True),  # no limit: nothing is ever evicted
        ("allkeys-lru", "100mb", False),
        ("volatile-lru", "100mb", False),
        ("volatile-ttl", "100mb", False),  # evicts the ids closest to expiry: still live
    ],
)
def test_eviction_policy_check(
    store: RedisReplayStore,
    caplog: pytest.LogCaptureFixture,
    policy: str,
    maxmemory: str,
    safe: bool,
) -> None:
    store.client.config_set("maxmemory-policy", policy)
    store.client.config_set("maxmemory", maxmemory)
    with caplog.at_level(logging.WARNING, logger="ecert_token.replay.redis"):
        store.check_and_mark(entry(b"evict-01"), NOW)  # the first call checks, once
        store.check_and_mark(entry(b"evict-02"), NOW)
    warned = [r for r in caplog.records if "may evict live replay ids" in r.getMessage()]
    assert len(warned) == (0 if safe else 1)
    check = store.check_eviction_policy()  # on demand, too
    assert (check.policy, check.safe) == (policy, safe)


def test_an_unreadable_eviction_policy_is_unknown() -> None:
    assert eviction_check(None).safe is None
    assert eviction_check({"maxmemory": "0"}).safe is None
    assert eviction_check({"maxmemory-policy": "allkeys-lfu", "maxmemory": "x"}).safe is False


def test_scripts_are_reloaded_after_script_flush(
    store: RedisReplayStore, client: redis.Redis
) -> None:
    assert store.check_and_mark(entry(b"script-1"), NOW) is FIRST
    client.script_flush()
    assert store.check_and_mark(entry(b"script-1"), NOW) is REPLAYED
    client.script_flush()
    batch = [entry(i.to_bytes(8, "big")) for i in range(10)] + [entry(b"script-1")]
    assert store.check_and_mark_many(batch, NOW) == [FIRST] * 10 + [REPLAYED]


def test_one_group_makes_a_batch_one_script_call(
    redis_server: RedisServer, clock: FixedClock, client: redis.Redis
) -> None:
    store = RedisReplayStore(client, 305, clock, groups=1, prefix="site7")
    batch = [entry(i.to_bytes(8, "big")) for i in range(64)]
    assert store.check_and_mark_many(batch, NOW) == [FIRST] * 64
    tags = {k.split(b":")[1] for k in client.scan_iter(match=b"site7:{*")}
    assert tags == {b"{0}"}


def test_rejects_bad_settings(client: redis.Redis) -> None:
    for bad in ({"prefix": "a{b}"}, {"prefix": ""}, {"groups": 0}, {"max_lifetime": 0}):
        with pytest.raises(InvalidArgument):
            RedisReplayStore(client, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://127.0.0.1:notaport/0"])
def test_a_bad_url_is_an_invalid_argument(redis_server: RedisServer, url: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        RedisReplayStore.from_url(url)
    assert "127.0.0.1" not in str(info.value)  # the URL (maybe with a password) is not echoed


def test_async_store_has_the_same_semantics(redis_server: RedisServer) -> None:
    clock = FixedClock(NOW)

    async def scenario() -> None:
        store = AsyncRedisReplayStore.from_url(redis_server.url, max_lifetime=305, clock=clock)
        ids = [i.to_bytes(8, "big") for i in range(20)]
        assert await store.check_and_mark(entry(ids[0]), NOW) is FIRST
        assert await store.check_and_mark(entry(ids[0]), NOW) is REPLAYED
        batch = [entry(i) for i in ids] + [entry(ids[5])]
        assert await store.check_and_mark_many(batch, NOW) == [REPLAYED] + [FIRST] * 19 + [
            REPLAYED
        ]
        await store.client.flushall()
        await store.client.script_flush()
        clock.advance(2)
        assert await store.check_and_mark(entry(ids[1]), NOW + 2) is FENCED
        assert (await store.check_eviction_policy()).safe is True
        redis_server.stop()
        with pytest.raises(StoreUnavailable):
            await store.check_and_mark(entry(b"down--id"), NOW + 2)
        await store.aclose()

    asyncio.run(scenario())


def test_another_leeway_or_skew_is_refused_by_the_server(client: redis.Redis) -> None:
    """Defect 2: each key group records the terms its memory began with; a store with
    other terms fails closed (even with fail_open: it would keep ids too briefly)."""
    first = RedisReplayStore(client, 305, FixedClock(NOW - 3600), groups=1)
    assert first.check_and_mark(entry(b"terms-1"), NOW) is FIRST
    for terms in ({"leeway": 10}, {"skew": 30}, {"leeway": 10, "fail_open": True}):
        other = RedisReplayStore(client, 305, FixedClock(NOW - 3600), groups=1,
                                 **terms)  # type: ignore[arg-type]
        with pytest.raises(StoreUnavailable) as info:
            other.check_and_mark(entry(b"terms-2"), NOW)
        assert info.value.detail == (
            "the replay store's memory was begun with different terms (leeway)"
        )
    assert client.exists(b"ecert:{0}:NHSA:terms-2") == 0  # nothing written
    assert first.check_and_mark(entry(b"terms-2"), NOW) is FIRST


def test_the_server_refuses_a_mark_past_its_horizon(client: redis.Redis) -> None:
    """Defect 1, at the store: by the server's clock, an entry whose expiry plus the skew
    has passed is FENCED unless its key is still there (then REPLAYED, or OWN_MARK for
    the same attempt); one second earlier it is marked."""
    now = int(client.time()[0])
    store = RedisReplayStore(client, 305, FixedClock(now - 3600))  # skew = leeway = 5
    late = ReplayEntry("NHSA", b"late-1", now - 100, now - LEEWAY)
    assert store.check_and_mark(late, now - 10) is FENCED  # a caller clock far behind
    edge = ReplayEntry("NHSA", b"edge-1", now - 100, now - LEEWAY + 2, b"a" * 16)
    assert store.check_and_mark(edge, now - 10) is FIRST
    key = next(k for k in client.scan_iter(match=b"*:NHSA:edge-1"))
    assert client.expiretime(key) >= now + 3  # kept past expiry + skew, by the server's clock
    client.expireat(key, now + 3600)  # (kept longer only to look at it past its horizon)
    past = ReplayEntry("NHSA", b"edge-1", now - 100, now - LEEWAY - 10, b"a" * 16)
    assert store.check_and_mark(past, now) is MarkResult.OWN_MARK
    other = ReplayEntry("NHSA", b"edge-1", now - 100, now - LEEWAY - 10, b"b" * 16)
    assert store.check_and_mark(other, now) is REPLAYED
