"""In-process replay store: a map of live ids plus per-second expiry buckets.

Layout, chosen for memory:

* each id is one ``bytes`` object: a length byte, the issuer and the token id;
* ``_live`` maps those objects to the attempt value they were marked with
  (the entry's own ``attempt`` object, not a copy; lookup and insert O(1));
* ``_buckets`` maps an expiry second to the list of ids that expire then; the
  same objects, so each id costs one pointer there.

Expiry never scans the live map: when time reaches a second, that second's
bucket is emptied and its ids are removed from the map.  Each id is removed
exactly once.  **Incremental purge**: one call removes at most
``PURGE_STEP`` ids (a bucket of a million ids that expire in the same second
would otherwise stall one verification for a fifth of a second); the rest is a
backlog that the next calls drain.  An expired id still in the backlog is
still in the map, so it is answered REPLAYED, never FIRST_USE.

Horizon: callers' ``now`` values are not monotonic (threads read the clock at
different moments, a batch reads it once before its checks), so an entry may
arrive whose ``expires_at`` is at or before the latest ``now`` seen (the
horizon, which does not wait for the backlog): its id may have been used and
forgotten, and it is answered FENCED, never FIRST_USE (so is an entry expiring at
or before the caller's own ``now``, if not held).  The horizon never runs
past the newest token ``iat`` the store has been given
(:func:`~ecert_token.replay.base.horizon_bound`), so a caller whose clock runs
far ahead cannot make honest callers' live codes FENCED; see docs/security.md,
"A clock far ahead".
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..clock import Clock, system_clock
from ..errors import InvalidArgument
from .base import (
    DEFAULT_LEEWAY,
    MarkResult,
    ReplayEntry,
    check_leeway,
    horizon_bound,
    is_fenced,
    own_mark,
)

_REPLAYED = MarkResult.REPLAYED
_FENCED = MarkResult.FENCED
_FIRST_USE = MarkResult.FIRST_USE
_MAX_CACHED_ISSUERS = 256
PURGE_STEP = 4096
"""Most ids one call removes (under a millisecond of work here); the rest waits."""


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
    ``leeway`` is the verifiers' clock tolerance this memory is kept for (a
    :class:`~ecert_token.Verifier` refuses a store built for another one).
    """

    def __init__(
        self, max_lifetime: int = 300, clock: Clock = system_clock, *,
        leeway: int = DEFAULT_LEEWAY,
    ) -> None:
        if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, int) or max_lifetime < 1:
            raise InvalidArgument("max_lifetime must be a positive number of seconds")
        self.leeway = check_leeway(leeway)
        self._lock = threading.Lock()
        self._prefixes: dict[str, bytes] = {}
        self._live: dict[bytes, bytes] = {}
        self._buckets: dict[int, list[bytes]] = {}
        self.memory_began = clock()
        self.max_lifetime = max_lifetime
        # The latest `now` seen, bounded by the newest iat seen (horizon_bound):
        # entries expiring at or before it are fenced.
        self._horizon = self.memory_began - 1
        # The newest entry issued_at seen; + _lead is the newest token iat (issue_time).
        self._newest_issued = self.memory_began - 1 - (self.leeway + 1)
        self._lead = self.leeway + 1
        # Every bucket at or before this second has been emptied (<= _horizon).
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

    def backlog(self) -> bool:
        """Are expired ids waiting to be purged (more than one call's work was due)?"""
        return self._purged_through < self._horizon

    def healthy(self) -> bool:
        """Can the store answer?  Memory always can."""
        return True

    def _purge(self, bound: int) -> None:
        """Move the horizon to ``bound`` (from :func:`horizon_bound`) and purge up to it."""
        self._horizon = max(self._horizon, bound)
        start = self._purged_through
        horizon = self._horizon
        if horizon <= start:
            return
        buckets = self._buckets
        if horizon - start <= len(buckets):
            due = [s for s in range(start + 1, horizon + 1) if s in buckets]
        else:  # a long idle gap: looking at every bucket is cheaper than every second
            due = sorted(s for s in buckets if s <= horizon)
        live = self._live
        budget = PURGE_STEP
        for second in due:
            bucket = buckets[second]
            if len(bucket) > budget:
                # Take the bucket's tail and stop: the next call goes on from here.
                cut = len(bucket) - budget
                for key in bucket[cut:]:
                    del live[key]
                del bucket[cut:]
                self._purged_through = second - 1
                return
            budget -= len(bucket)
            del buckets[second]
            for key in bucket:
                del live[key]
        self._purged_through = horizon

    def _mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        key = entry_key(entry)
        live = self._live
        recorded = live.get(key)
        if recorded is not None:
            return own_mark(entry, recorded)
        if (entry.expires_at <= self._horizon or entry.expires_at <= now
                or is_fenced(entry, self.memory_began)):
            return MarkResult.FENCED  # (the first: it may have been used and forgotten)
        live[key] = entry.attempt
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
            if entry.issued_at > self._newest_issued:  # noqa: PLR1730 (no call on this path)
                self._newest_issued = entry.issued_at
            if now > self._purged_through:  # (horizon_bound, written out)
                bound = min(now, self._newest_issued + self._lead)
                if bound > self._purged_through:
                    self._purge(bound)
            live = self._live
            recorded = live.get(key)
            if recorded is not None:
                return own_mark(entry, recorded)
            second = entry.expires_at
            # (is_fenced, written out)
            if second <= self._horizon or second <= now or entry.issued_at < self.memory_began:
                return _FENCED
            live[key] = entry.attempt
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
            for entry in entries:
                self._newest_issued = max(self._newest_issued, entry.issued_at)
            self._purge(horizon_bound(now, self._newest_issued + self._lead))
            return [self._mark(e, now) for e in entries]
