"""Replay-store benchmarks (pytest-benchmark); numbers for the README, nothing asserted.

Run from the repository root::

    python -m pytest benchmarks/bench_replay.py                      # full
    python -m pytest benchmarks/bench_replay.py --benchmark-disable  # quick: each once

* check-and-mark throughput of each store, one id per call and 64 per batch;
* memory per live id of the in-memory store at 1,000,000 ids (tracemalloc;
  100,000 in quick mode), reported in ``extra_info`` and printed;
* the in-memory store's incremental purge: the longest single call while a
  bucket of 1,000,000 ids that expire in the same second drains (goal: at
  most 10 ms), reported in ``extra_info`` and printed;
* the full verify cost (decode, decrypt, signature, policy, mark) with each store.

Redis benchmarks start a throwaway redis-server on a loopback port and skip
when none is installed.
"""

from __future__ import annotations

import gc
import itertools
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.* helpers

from ecert_token import BusinessType, Credential, FixedClock, Issuer, Verifier, VerifyPolicy
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import (
    MemoryReplayStore,
    ReplayEntry,
    ReplayStore,
    SqliteReplayStore,
)
from tests import conftest as shared
from tests.replay.redis_server import REDIS_NOW as NOW  # (Redis's horizon: see there)
from tests.replay.redis_server import RedisServer, redis_missing

# The shared test fixtures, registered in this module by name.
keys, clock, issuer, credential = shared.keys, shared.clock, shared.issuer, shared.credential
STORES = ["memory", "sqlite", "redis"]
REG = BusinessType.HOSPITAL_REGISTRATION
BATCH = 64
LATER = NOW + 3600


def quick(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("benchmark_disable", default=False))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = redis_missing()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    fixed = FixedClock(NOW)
    if request.param == "memory":
        yield MemoryReplayStore(max_lifetime=305, clock=fixed)
    elif request.param == "sqlite":
        with SqliteReplayStore(tmp_path / "replay.db", max_lifetime=305, clock=fixed) as s:
            yield s
    else:
        from ecert_token.replay.redis import RedisReplayStore

        url = request.getfixturevalue("redis_url")
        s = RedisReplayStore.from_url(url, max_lifetime=305, clock=fixed)
        s.client.flushall()
        yield s
        s.close()


def fresh_entries() -> Callable[[int], list[ReplayEntry]]:
    """Never-seen entries, like the ids of newly issued tokens."""
    counter = itertools.count()

    def take(n: int) -> list[ReplayEntry]:
        out = []
        for _ in range(n):
            i = next(counter)
            # A verifier's attempt value is 16 bytes (token/attempts.py), kept with the id.
            out.append(ReplayEntry("NHSA", i.to_bytes(16, "little"), NOW, NOW + 65,
                                   b"attempt!" + i.to_bytes(8, "big")))
        return out

    return take


def test_mark_one(benchmark: BenchmarkFixture, store: ReplayStore) -> None:
    take = fresh_entries()
    benchmark(lambda: store.check_and_mark(take(1)[0], NOW))


def test_mark_batch_of_64(benchmark: BenchmarkFixture, store: ReplayStore) -> None:
    take = fresh_entries()
    benchmark.extra_info["ids_per_call"] = BATCH
    benchmark(lambda: store.check_and_mark_many(take(BATCH), NOW))


def test_memory_store_bytes_per_live_id(
    benchmark: BenchmarkFixture, request: pytest.FixtureRequest
) -> None:
    count = 100_000 if quick(request) else 1_000_000

    def measure() -> float:
        gc.collect()
        tracemalloc.start()
        store = MemoryReplayStore(max_lifetime=305, clock=FixedClock(NOW))
        before = tracemalloc.get_traced_memory()[0]
        take = fresh_entries()
        for second in range(300):  # ids spread over 300 expiry seconds, as in real use
            store.check_and_mark_many(
                [
                    ReplayEntry(e.issuer, e.token_id, NOW, NOW + 5 + second, e.attempt)
                    for e in take(count // 300 + 1)
                ],
                NOW,
            )
        held = store.held()
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return used / held

    per_id = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["live_ids"] = count
    benchmark.extra_info["bytes_per_id"] = round(per_id, 1)
    print(f"\nmemory store: {per_id:.1f} bytes per live id at {count:,} ids")


@pytest.fixture
def tokens(issuer: Issuer, credential: Credential) -> list[str]:
    """Fresh tokens (the shared test issuer and credential), one per verification.

    Minted an hour after the stores' memory began (NOW): a store fences tokens
    issued before, or within one leeway after, its memory began."""
    return [issuer.mint(credential, REG, now=LATER) for _ in range(2000)]


def test_verify(
    benchmark: BenchmarkFixture,
    store: ReplayStore,
    keys: KeyDir,
    tokens: list[str],
    request: pytest.FixtureRequest,
) -> None:
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(LATER)), store)
    fresh = iter(tokens)
    rounds = 200 if quick(request) else len(tokens)
    benchmark.pedantic(lambda: verifier.verify(next(fresh), REG), rounds=rounds, iterations=1)


def test_check_without_replay_mark(
    benchmark: BenchmarkFixture, keys: KeyDir, tokens: list[str]
) -> None:
    """The baseline: every verification step except the store."""
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(LATER)))
    token = tokens[0]
    benchmark(lambda: verifier.check(token, REG, now=LATER))


def test_mark_batch_of_64_redis_one_key_group(
    benchmark: BenchmarkFixture, redis_url: str
) -> None:
    """groups=1: the whole batch is one script call (one hash slot, so one cluster shard)."""
    from ecert_token.replay.redis import RedisReplayStore

    store = RedisReplayStore.from_url(
        redis_url, max_lifetime=305, clock=FixedClock(NOW), groups=1, prefix="ecert-g1"
    )  # its own prefix: stores with different group counts may not share one
    take = fresh_entries()
    benchmark.extra_info["ids_per_call"] = BATCH
    benchmark(lambda: store.check_and_mark_many(take(BATCH), NOW))
    store.close()


def test_memory_store_purge_of_a_million_ids_expiring_together(
    benchmark: BenchmarkFixture, request: pytest.FixtureRequest
) -> None:
    """The slowest check while 10^6 ids of one expiry second are purged (issue #10: it
    was one 194 ms stall; now at most PURGE_STEP ids go per call)."""
    count = 100_000 if quick(request) else 1_000_000

    def measure() -> tuple[float, float, float, int]:
        store = MemoryReplayStore(max_lifetime=305, clock=FixedClock(NOW - 3600))
        store.check_and_mark_many(
            [ReplayEntry("NHSA", i.to_bytes(8, "big"), NOW, NOW + 65) for i in range(count)],
            NOW,
        )
        take = fresh_entries()
        later = NOW + 66
        took: list[float] = []
        cpu: list[float] = []
        gc.collect()
        while store.backlog() or not took:
            e = take(1)[0]
            fresh = ReplayEntry(e.issuer, e.token_id, later, later + 65)
            started, started_cpu = time.perf_counter(), time.thread_time()
            store.check_and_mark(fresh, later)
            cpu.append(time.thread_time() - started_cpu)
            took.append(time.perf_counter() - started)
        took.sort()
        return took[len(took) // 2], took[-1], max(cpu), len(took)

    median, slowest, slowest_cpu, calls = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["ids_expiring_together"] = count
    benchmark.extra_info["median_call_ms"] = round(median * 1000, 2)
    benchmark.extra_info["slowest_call_ms"] = round(slowest * 1000, 2)
    benchmark.extra_info["slowest_call_cpu_ms"] = round(slowest_cpu * 1000, 2)
    benchmark.extra_info["calls_to_drain"] = calls
    print(f"\nmemory store purge: {count:,} ids expiring together drained in {calls} calls, "
          f"median call {median * 1000:.2f} ms, slowest {slowest * 1000:.2f} ms wall "
          f"({slowest_cpu * 1000:.2f} ms of CPU: the rest is a busy machine's preemption)")
