"""A throwaway redis-server for the docs-and-examples tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.replay.conftest import need_redis
from tests.replay.redis_server import RedisServer


@contextmanager
def throwaway_redis(directory: Path) -> Iterator[str]:
    """A redis-server on a free loopback port; its URL (skip without one, fail in CI)."""
    need_redis()
    server = RedisServer(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
