"""Replay fixtures: a throwaway redis-server, key directories for child processes.

Redis tests skip when no ``redis-server`` (or redis-py) is available, unless
``ECERT_REQUIRE_REDIS=1``: then they fail, so CI cannot pass by skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ecert_token import FixedClock
from ecert_token.keys.keydir import KeyDir, save
from ecert_token.replay import MemoryReplayStore, ReplayStore, SqliteReplayStore

from .redis_server import REDIS_NOW, REQUIRE_ENV, RedisServer, redis_missing, redis_required

NOW = REDIS_NOW
"""These tests' "now" (see redis_server.REDIS_NOW); the ``clock`` fixture reads it."""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def need_redis() -> None:
    """Skip (or, under ECERT_REQUIRE_REDIS=1, fail) when Redis cannot run here."""
    reason = redis_missing()
    if reason is None:
        return
    if redis_required():
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the Redis tests")
    pytest.skip(reason)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    need_redis()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keydir_path(keys: KeyDir, tmp_path: Path) -> Path:
    """The shared test keys saved on disk, for verifier child processes."""
    path = tmp_path / "keys"
    save(keys, path)
    return path


StoreFactory = Callable[[FixedClock], ReplayStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds a store of each kind with a given clock; Redis gets its own server."""
    kind = request.param
    opened: list[ReplayStore] = []
    server: RedisServer | None = None
    if kind == "redis":
        need_redis()
        server = RedisServer(tmp_path / "redis")
        server.start()

    def factory(clock: FixedClock) -> ReplayStore:
        store: ReplayStore
        if kind == "memory":
            store = MemoryReplayStore(max_lifetime=305, clock=clock)
        elif kind == "sqlite":
            store = SqliteReplayStore(tmp_path / "replay.db", max_lifetime=305, clock=clock)
        else:
            from ecert_token.replay.redis import RedisReplayStore

            assert server is not None
            store = RedisReplayStore.from_url(server.url, max_lifetime=305, clock=clock)
        opened.append(store)
        return store

    try:
        yield factory
    finally:
        for store in opened:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        if server is not None:
            server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where verifier child processes keep replay memory (test_processes, test_clock_ahead)."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'replay.db'}"
        return
    need_redis()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield f"redis:{server.url}"
    finally:
        server.stop()
