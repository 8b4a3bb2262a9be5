"""Replay protection: a token id is accepted once.

Stores: :class:`MemoryReplayStore` (one process), :class:`SqliteReplayStore`
(processes of one host sharing a file) and, with the ``redis`` extra,
``RedisReplayStore`` / ``AsyncRedisReplayStore`` (a region), importable from
here or from :mod:`ecert_token.replay.redis`; redis-py is imported only when
one of those names is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import MarkResult, ReplayEntry, ReplayStore
from .memory import MemoryReplayStore
from .sqlite import SqliteReplayStore

if TYPE_CHECKING:
    from .redis import AsyncRedisReplayStore, RedisReplayStore

__all__ = [
    "AsyncRedisReplayStore",
    "MarkResult",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayEntry",
    "ReplayStore",
    "SqliteReplayStore",
]

_REDIS_NAMES = ("AsyncRedisReplayStore", "RedisReplayStore")


def __getattr__(name: str) -> object:
    """Import the Redis stores on first use, so the core never needs redis-py."""
    if name in _REDIS_NAMES:
        return getattr(importlib.import_module(".redis", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
