"""Attempt values, and the memory of marks whose outcome is unknown (lost replies).

When a store raises or times out after the request may have reached it, the
mark may have been recorded although the verifier refused the token
(``store_unavailable``).  The holder scans the code again; without help the
store answers ``replayed`` and an honest person looks like a fraudster.

So every mark carries an attempt value (:attr:`ReplayEntry.attempt`): a
random 8-byte prefix drawn once per verifier (and again in a forked child)
and an 8-byte counter, unique with overwhelming probability and cheaper than
drawing random bytes per token.  The store keeps it with the id and answers
:attr:`MarkResult.OWN_MARK` when it finds the id marked with the same value.
This module remembers, for each code whose outcome was unknown, its
``(issuer, token id) -> attempt`` until the entry expires (bounded in number),
reuses that value when the same code is presented again, and accepts once on
FIRST_USE or OWN_MARK; then it forgets.  Every other verifier, and this one
afterwards, still gets ``replayed``.

Why OWN_MARK may always be accepted: a value is sent by one presentation only
(a new one, or a remembered one taken out of the memory, so two concurrent
retries cannot share it), and it is remembered only when that presentation was
not accepted.  So a store that holds the value for the id has given no one else
first use, and no one has accepted on it yet.  That also covers a client
library's own resend of the same call (redis-py retries a timed-out command).
I/O-free, thread-safe, and shared by :class:`~ecert_token.Verifier` and
:class:`~ecert_token.aio.AsyncVerifier`.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import weakref
from collections.abc import Callable, Sequence

from ..errors import InvalidArgument
from ..replay.base import ReplayEntry

_PACK = struct.Struct(">8sQ").pack
PREFIX_BYTES = 8
DEFAULT_LIMIT = 4096
"""Most codes remembered at once; past it the oldest are forgotten (which only
means that their retry reads ``replayed``, as before)."""

RandomSource = Callable[[int], bytes]

_ALIVE: weakref.WeakSet[Attempts] = weakref.WeakSet()


def _reseed_all() -> None:
    for attempts in list(_ALIVE):
        attempts.reseed()


if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's values
    os.register_at_fork(after_in_child=_reseed_all)


class Attempts:
    """Per-verifier attempt values and the codes whose mark outcome is unknown.

    ``random(n)`` returns ``n`` random bytes (``os.urandom`` by default;
    injectable for tests).  ``limit`` bounds how many codes are remembered.
    """

    __slots__ = ("__weakref__", "_counter", "_lock", "_random", "_unknown", "limit", "prefix")

    def __init__(self, random: RandomSource = os.urandom, limit: int = DEFAULT_LIMIT) -> None:
        if not callable(random):
            raise InvalidArgument("random must be a callable returning random bytes")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument("limit must be a positive number of codes")
        self._random = random
        self.limit = limit
        self._lock = threading.Lock()
        # (issuer, token id) -> (attempt, expires_at): outcome unknown, not in flight.
        self._unknown: dict[tuple[str, bytes], tuple[bytes, int]] = {}
        self.prefix = b""
        self._counter = itertools.count()
        self.reseed()
        _ALIVE.add(self)

    def reseed(self) -> None:
        """Draw a new prefix (at construction, and in a forked child)."""
        prefix = self._random(PREFIX_BYTES)
        if type(prefix) is not bytes or len(prefix) != PREFIX_BYTES:
            raise InvalidArgument(f"random({PREFIX_BYTES}) must return {PREFIX_BYTES} bytes")
        self.prefix = prefix
        self._counter = itertools.count()

    def remembered(self) -> int:
        """How many codes with an unknown outcome are remembered."""
        return len(self._unknown)

    def attempt(self, issuer: str, token_id: bytes) -> bytes:
        """The attempt value for marking this code now: the remembered one if its
        earlier outcome was unknown (taken out of the memory), else a new one."""
        if self._unknown:
            with self._lock:
                record = self._unknown.pop((issuer, token_id), None)
            if record is not None:
                return record[0]
        return _PACK(self.prefix, next(self._counter))

    def unknown(self, entries: Sequence[ReplayEntry], now: int) -> None:
        """The store raised (or timed out, or answered nonsense) for ``entries``:
        each may have been marked.  Remember their values until they expire."""
        with self._lock:
            remember = self._unknown
            for entry in entries:
                if entry.attempt and entry.expires_at > now:
                    key = (entry.issuer, entry.token_id)
                    remember.pop(key, None)  # re-inserted last: the newest
                    remember[key] = (entry.attempt, entry.expires_at)
            if len(remember) > self.limit:
                self._trim(now)

    def _trim(self, now: int) -> None:
        remember = self._unknown
        for key in [k for k, (_, expires) in remember.items() if expires <= now]:
            del remember[key]
        excess = len(remember) - self.limit
        if excess > 0:
            for key in list(itertools.islice(remember, excess)):  # the oldest first
                del remember[key]
