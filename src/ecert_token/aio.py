"""Async verification for asyncio services: store I/O never blocks the event loop.

:class:`AsyncVerifier` runs the CPU stages of a :class:`~ecert_token.Verifier`
(decoding, decryption, time window, signature, policy; about a tenth of a
millisecond) on the event loop, then *awaits* the replay mark on an
:class:`AsyncReplayStore`.  Both shells share the verifier's I/O-free pipeline
(``token/verify.py``): the stages, the store entry, and what the store's
answer means are decided there; this module only does the awaiting.  A network store (Redis through
``redis.asyncio``) implements that protocol natively; a synchronous store
(memory, SQLite) is wrapped in :class:`ThreadedReplayStore`, which runs each
call in a worker thread with :func:`asyncio.to_thread`.

The outcome is the same as the synchronous verifier's: one
:class:`~ecert_token.VerifiedToken` or one :class:`~ecert_token.TokenRejected`
with a stable code.  A store that fails, hangs past ``store_timeout`` or
answers nonsense makes verification fail closed with ``store_unavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from .errors import EcertError, InvalidArgument, StoreUnavailable, TokenRejected
from .model import BusinessType
from .replay.base import MarkResult, ReplayEntry, ReplayStore
from .token.batch import check_all
from .token.result import VerifiedToken
from .token.verify import Verifier, _Pipeline, check_terms

__all__ = ["AsyncReplayStore", "AsyncVerifier", "ThreadedReplayStore"]

_T = TypeVar("_T")


@runtime_checkable
class AsyncReplayStore(Protocol):
    """The awaitable form of :class:`~ecert_token.ReplayStore` (same semantics).

    Implementations raise :class:`~ecert_token.StoreUnavailable` when they
    cannot answer.
    """

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        """Mark ``entry`` used; say whether this was its first use."""
        ...

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        """One result per entry, in order, in one round trip."""
        ...


class ThreadedReplayStore:
    """Adapts a synchronous :class:`~ecert_token.ReplayStore` to :class:`AsyncReplayStore`.

    Each call runs in the default thread pool, so a SQLite commit or a file
    lock never stalls the event loop.  The wrapped store must be thread-safe
    (the memory and SQLite stores are).
    """

    __slots__ = ("store",)

    def __init__(self, store: ReplayStore) -> None:
        if not isinstance(store, ReplayStore):
            raise InvalidArgument("store must implement ReplayStore")
        self.store = store

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return await asyncio.to_thread(self.store.check_and_mark, entry, now)

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        return await asyncio.to_thread(self.store.check_and_mark_many, list(entries), now)

    async def healthy(self) -> bool:
        """The wrapped store's ``healthy()`` probe, in a thread (True if it has none)."""
        probe = getattr(self.store, "healthy", None)
        return True if probe is None else bool(await asyncio.to_thread(probe))


class AsyncVerifier:
    """Verifies tokens with a :class:`~ecert_token.Verifier` and an awaited replay store.

    ``replay_store`` defaults to the verifier's own synchronous store run in a
    thread.  ``store_timeout`` (seconds) bounds each store call; past it the
    token is refused with ``store_unavailable`` rather than waiting on a hung
    connection.
    """

    __slots__ = ("_pipeline", "replay_store", "store_timeout", "verifier")

    def __init__(
        self,
        verifier: Verifier,
        replay_store: AsyncReplayStore | None = None,
        *,
        store_timeout: float | None = 2.0,
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise InvalidArgument("verifier must be a Verifier")
        if replay_store is not None and not isinstance(replay_store, AsyncReplayStore):
            raise InvalidArgument("replay_store must implement AsyncReplayStore")
        if store_timeout is not None and (
            isinstance(store_timeout, bool)
            or not isinstance(store_timeout, int | float)
            or not store_timeout > 0
        ):
            raise InvalidArgument("store_timeout must be a positive number of seconds or None")
        if replay_store is not None:
            check_terms(getattr(replay_store, "store", replay_store), verifier.policy.leeway)
        self.verifier = verifier
        # The verifier's trust, policy and attempt memory: one pipeline state for both shells.
        self._pipeline = _Pipeline(verifier.trust, verifier.policy, verifier.attempts)
        if replay_store is None:  # not `or`: an empty store may have len() == 0
            replay_store = ThreadedReplayStore(verifier.replay_store)
        self.replay_store: AsyncReplayStore = replay_store
        self.store_timeout = store_timeout

    async def ready(self) -> bool:
        """Can the replay store answer (its ``healthy()`` probe, under ``store_timeout``)?
        A store without a probe counts as ready.  Never raises."""
        probe = getattr(self.replay_store, "healthy", None)
        if probe is None:
            return True
        try:
            async with asyncio.timeout(self.store_timeout):
                return bool(await probe())
        except Exception:  # a probe's own failure or the timeout: not ready
            return False

    def _now(self, now: int | None) -> int:
        return self._pipeline.policy.clock() if now is None else now

    async def verify(
        self, token: str | bytes, business_type: BusinessType, *, now: int | None = None
    ) -> VerifiedToken:
        """Verify ``token`` for the ``business_type`` step; mark it used if valid."""
        pipeline = self._pipeline
        at = self._now(now)
        verified = pipeline.check(token, business_type, at)
        entry = pipeline.replay_entry(verified)
        try:
            mark = await self._store_call(self.replay_store.check_and_mark(entry, at))
        except BaseException:  # failed, timed out or cancelled: it may have been marked
            pipeline.attempts.unknown((entry,), at)
            raise
        rejection = pipeline.mark_outcome(verified, mark, now is None)
        if rejection is not None:
            raise rejection
        return verified

    async def verify_many(
        self,
        tokens: Sequence[str | bytes],
        business_type: BusinessType,
        *,
        now: int | None = None,
    ) -> list[VerifiedToken | TokenRejected]:
        """Verify a batch with one store round trip; one outcome per token, in order.

        Each outcome is the :class:`~ecert_token.VerifiedToken` or the
        :class:`~ecert_token.TokenRejected` that :meth:`verify` would have
        returned or raised; one bad token never fails the batch.  The same
        token twice in a batch is accepted at its first position and
        ``replayed`` after.  If the store cannot answer, every token that
        passed the checks gets a :class:`~ecert_token.StoreUnavailable` (fail
        closed) and the other rejections stand, as in the synchronous batch.
        """
        pipeline = self._pipeline
        at = self._now(now)
        # The checks are CPU work: run them here, in order (the event loop has no
        # store I/O to wait for until the mark).
        outcomes = check_all(pipeline.check, tokens, business_type, at, workers=1)
        checked, entries = pipeline.replay_entries(outcomes)
        if not checked:
            return outcomes
        marks: object
        try:
            marks = await self._store_call(self.replay_store.check_and_mark_many(entries, at))
        except StoreUnavailable as exc:
            marks = exc
        except BaseException:  # cancelled: the outcome is unknown
            pipeline.attempts.unknown(entries, at)
            raise
        return pipeline.settle_batch(outcomes, checked, entries, marks,
                                     clock_read=now is None, now=at)

    async def _store_call(self, call: Awaitable[_T]) -> _T:
        """Await one store call under the timeout; any failure fails closed."""
        try:
            async with asyncio.timeout(self.store_timeout):
                return await call
        except EcertError:
            raise
        except TimeoutError:
            raise StoreUnavailable("replay store timed out") from None
        except Exception as exc:  # a store's own I/O errors (connection reset, ...)
            raise StoreUnavailable("replay store failed") from exc
