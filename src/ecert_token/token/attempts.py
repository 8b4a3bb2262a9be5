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

Only one presentation at a time can hold a remembered value: it is taken out
of the memory while that presentation's mark is in flight, so two concurrent
retries cannot both be accepted.  I/O-free, thread-safe, and shared by
:class:`~ecert_token.Verifier` and :class:`~ecert_token.aio.AsyncVerifier`.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..errors import InvalidArgument
from ..replay.base import MarkResult, ReplayEntry

_PACK = struct.Struct(">8sQ").pack
_OWN_MARK = MarkResult.OWN_MARK
PREFIX_BYTES = 8
DEFAULT_LIMIT = 4096
"""Most codes remembered at once; past it the oldest are forgotten (which only
means that their retry reads ``replayed``, as before)."""

RandomSource = Callable[[int], bytes]
_Answer = TypeVar("_Answer")

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

    __slots__ = ("__weakref__", "_counter", "_held", "_lock", "_random", "_unknown",
                 "limit", "prefix")

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
        # attempt -> (issuer, token id, expires_at): a remembered value in flight again.
        self._held: dict[bytes, tuple[str, bytes, int]] = {}
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
        """How many codes with an unknown outcome are remembered (or in flight again)."""
        return len(self._unknown) + len(self._held)

    def attempt(self, issuer: str, token_id: bytes) -> bytes:
        """The attempt value for marking this code now: the remembered one if its
        earlier outcome was unknown (taken out until :meth:`settle`), else a new one."""
        if self._unknown:
            with self._lock:
                record = self._unknown.pop((issuer, token_id), None)
                if record is not None:
                    self._held[record[0]] = (issuer, token_id, record[1])
                    return record[0]
        return _PACK(self.prefix, next(self._counter))

    def busy(self) -> bool:
        """Is any remembered value in flight (so every answer must go through :meth:`settle`)?"""
        return bool(self._held)

    def settle(self, entry: ReplayEntry, mark: _Answer) -> _Answer | MarkResult:
        """The store's answer for ``entry`` as the verifier must take it.

        OWN_MARK becomes FIRST_USE when ``entry`` carried a remembered value
        (this verifier's earlier mark, whose answer was lost), else REPLAYED.
        Any answer settles the remembered value: it is forgotten.
        """
        held = None
        if self._held:
            with self._lock:
                held = self._held.pop(entry.attempt, None)
        if mark is _OWN_MARK:
            return MarkResult.FIRST_USE if held is not None else MarkResult.REPLAYED
        return mark

    def unknown(self, entries: Sequence[ReplayEntry], now: int) -> None:
        """The store raised (or timed out, or answered nonsense) for ``entries``:
        each may have been marked.  Remember their values until they expire."""
        with self._lock:
            held = self._held
            remember = self._unknown
            for entry in entries:
                held.pop(entry.attempt, None)
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
        # A value in flight whose task vanished (cancelled) is dropped once expired.
        for attempt in [a for a, (_, _, expires) in self._held.items() if expires <= now]:
            del self._held[attempt]
