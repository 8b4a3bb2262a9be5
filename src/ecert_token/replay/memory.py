"""In-process replay store: a set of live ids plus per-second expiry buckets.

Layout, chosen for memory (about 100 bytes per live id at a million ids):

* each id is one ``bytes`` object: a length byte, the issuer and the token id;
* ``_live`` is a set of those objects (lookup and insert are O(1));
* ``_buckets`` maps an expiry second to the list of ids that expire then; the
  same objects, so each id costs one pointer there.

Expiry never scans the live set: when time reaches a second, that second's
bucket is popped and its ids are discarded from the set.  Each id is removed
exactly once, so the cost per call is O(1) amortised.

Callers' ``now`` values are not monotonic (threads read the clock at different
moments, a batch reads it once before its checks), so an entry may arrive
whose ``expires_at`` is at or before a second already purged: its id may have
been used and forgotten, and it is answered FENCED, never FIRST_USE.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..clock import Clock, system_clock
from ..errors import InvalidArgument
from .base import MarkResult, ReplayEntry, is_fenced

_REPLAYED = MarkResult.REPLAYED
_FENCED = MarkResult.FENCED
_FIRST_USE = MarkResult.FIRST_USE
_MAX_CACHED_ISSUERS = 256


def entry_key(entry: ReplayEntry) -> bytes:
    """One compact, unambiguous key for (issuer, token id)."""
    issuer = entry.issuer.encode("utf-8")
    if len(issuer) > 255:
        raise InvalidArgument("issuer name too long for a replay key")
    return bytes((len(issuer),)) + issuer + entry.token_id


class MemoryReplayStore:
    """Thread-safe replay memory for one process.

    Its memory begins when it is created (``memory_began``, read from
    ``clock``), so tokens issued before then are fenced (see
    :mod:`ecert_token.replay.base`).  ``max_lifetime`` is the longest time a
    token can be accepted; ``fenced_until`` is when the fence stops mattering.
    """

    def __init__(self, max_lifetime: int = 300, clock: Clock = system_clock) -> None:
        if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime < 1:
            raise InvalidArgument("max_lifetime must be a positive number of seconds")
        self._lock = threading.Lock()
        self._prefixes: dict[str, bytes] = {}
        self._live: set[bytes] = set()
        self._buckets: dict[int, list[bytes]] = {}
        self.memory_began = clock()
        self.max_lifetime = max_lifetime
        # Every bucket at or before this second has been purged.
        self._purged_through = self.memory_began - 1

    @property
    def fenced_until(self) -> int:
        """From this second on, no valid token can have been issued before the memory began."""
        return self.memory_began + self.max_lifetime

    def held(self) -> int:
        """How many ids are held (live ones, plus expired ones not yet purged).

        A method, not ``__len__``: an empty store must stay truthy, or
        ``store or default`` would silently replace it.
        """
        return len(self._live)

    def _purge(self, now: int) -> None:
        start = self._purged_through
        if now <= start:
            return
        buckets = self._buckets
        if now - start <= len(buckets):
            due = [s for s in range(start + 1, now + 1) if s in buckets]
        else:  # a long idle gap: looking at every bucket is cheaper than every second
            due = [s for s in buckets if s <= now]
        live = self._live
        for second in due:
            for key in buckets.pop(second):
                live.discard(key)
        self._purged_through = now

    def _mark(self, entry: ReplayEntry) -> MarkResult:
        key = entry_key(entry)
        live = self._live
        if key in live:
            return MarkResult.REPLAYED
        if entry.expires_at <= self._purged_through or is_fenced(entry, self.memory_began):
            return MarkResult.FENCED  # (the first: it may have been used and forgotten)
        live.add(key)
        second = entry.expires_at
        bucket = self._buckets.get(second)
        if bucket is None:
            self._buckets[second] = [key]
        else:
            bucket.append(key)
        return MarkResult.FIRST_USE

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        # The one-entry path is on every verification, so it is _purge + _mark
        # written out, with the issuer's key prefix cached (same results).
        prefix = self._prefixes.get(entry.issuer)
        if prefix is None:
            prefix = self._prefix(entry.issuer)
        key = prefix + entry.token_id
        with self._lock:
            if now > self._purged_through:
                self._purge(now)
            live = self._live
            if key in live:
                return _REPLAYED
            second = entry.expires_at
            # (is_fenced, written out)
            if second <= self._purged_through or entry.issued_at < self.memory_began:
                return _FENCED
            live.add(key)
            bucket = self._buckets.get(second)
            if bucket is None:
                self._buckets[second] = [key]
            else:
                bucket.append(key)
            return _FIRST_USE

    def _prefix(self, issuer: str) -> bytes:
        """``entry_key``'s issuer part; kept for the first few hundred issuers seen."""
        prefix = entry_key(ReplayEntry(issuer, b"", 0, 0))
        if len(self._prefixes) < _MAX_CACHED_ISSUERS:
            self._prefixes[issuer] = prefix
        return prefix

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        with self._lock:
            self._purge(now)
            return [self._mark(e) for e in entries]
