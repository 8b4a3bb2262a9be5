"""In-process replay store: a dict of live ids guarded by a lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..clock import Clock, system_clock
from .base import MarkResult, ReplayEntry


class MemoryReplayStore:
    """Thread-safe replay memory for one process.

    Its memory begins when it is created, so tokens issued before then are
    fenced for ``max_lifetime`` seconds (see :mod:`ecert_token.replay.base`).
    """

    def __init__(self, max_lifetime: int = 300, clock: Clock = system_clock) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, bytes], int] = {}
        self.memory_began = clock()
        self.max_lifetime = max_lifetime
        self._next_purge = 0

    def __len__(self) -> int:
        return len(self._ids)

    def _mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        key = (entry.issuer, entry.token_id)
        if key in self._ids:
            return MarkResult.REPLAYED
        if entry.issued_at < self.memory_began and now < self.memory_began + self.max_lifetime:
            return MarkResult.FENCED
        self._ids[key] = entry.expires_at
        return MarkResult.FIRST_USE

    def _purge(self, now: int) -> None:
        if now >= self._next_purge:
            self._ids = {k: exp for k, exp in self._ids.items() if exp > now}
            self._next_purge = now + 1

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        with self._lock:
            self._purge(now)
            return self._mark(entry, now)

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        with self._lock:
            self._purge(now)
            return [self._mark(e, now) for e in entries]
