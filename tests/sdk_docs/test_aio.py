"""AsyncVerifier: same outcomes as Verifier, with the replay mark awaited."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    InvalidArgument,
    Issuer,
    MarkResult,
    MemoryReplayStore,
    ReplayEntry,
    StoreUnavailable,
    TokenRejected,
    VerifiedToken,
    Verifier,
)
from ecert_token.aio import AsyncReplayStore, AsyncVerifier, ThreadedReplayStore
from tests.conftest import running_store

REG = BusinessType.HOSPITAL_REGISTRATION


class NativeAsyncStore:
    """A store written against the async protocol (as a redis.asyncio store is).

    It keeps its ids in a real MemoryReplayStore and counts round trips; with
    ``reachable`` False it fails the way a dropped connection does.
    """

    def __init__(self) -> None:
        self.inner = running_store()  # memory began long ago: a running terminal
        self.round_trips = 0
        self.reachable = True
        self.loop_thread: int | None = None

    def __len__(self) -> int:  # an empty store is falsy; it must still be used
        return len(self.inner)

    def _io(self) -> None:
        self.round_trips += 1
        self.loop_thread = threading.get_ident()
        if not self.reachable:
            raise ConnectionError("connection reset by peer")

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        await asyncio.sleep(0)
        self._io()
        return self.inner.check_and_mark(entry, now)

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        await asyncio.sleep(0)
        self._io()
        return self.inner.check_and_mark_many(entries, now)


class ThreadRecordingStore(MemoryReplayStore):
    """The real memory store, noting which thread each call runs on."""

    threads: list[int]

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        self.threads.append(threading.get_ident())
        return super().check_and_mark(entry, now)


def test_accepts_once_then_replayed(token: str, verifier: Verifier) -> None:
    averifier = AsyncVerifier(verifier)

    async def run() -> tuple[VerifiedToken, TokenRejected]:
        first = await averifier.verify(token, REG)
        with pytest.raises(TokenRejected) as again:
            await averifier.verify(token, REG)
        return first, again.value

    first, again = asyncio.run(run())
    assert first.claims.credential_id == "E4Q7ZK2M9PXA"
    assert again.code is ErrorCode.REPLAYED


def test_default_store_is_the_verifiers_own(token: str, verifier: Verifier) -> None:
    averifier = AsyncVerifier(verifier)
    assert isinstance(averifier.replay_store, ThreadedReplayStore)
    assert averifier.replay_store.store is verifier.replay_store
    asyncio.run(averifier.verify(token, REG))
    with pytest.raises(TokenRejected) as err:
        verifier.verify(token, REG)
    assert err.value.code is ErrorCode.REPLAYED


def test_threaded_store_runs_off_the_event_loop(
    token: str, verifier: Verifier, clock: FixedClock
) -> None:
    store = ThreadRecordingStore(clock=lambda: clock.now - 3600)
    store.threads = []
    averifier = AsyncVerifier(verifier, ThreadedReplayStore(store))

    async def run() -> int:
        await averifier.verify(token, REG)
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert len(store.threads) == 1
    assert store.threads[0] != loop_thread


@pytest.mark.parametrize(
    ("text", "business", "code"),
    [
        ("EC1:NOT-BASE45!", REG, ErrorCode.MALFORMED),
        ("hello", REG, ErrorCode.MALFORMED),
        (None, BusinessType.HOSPITAL_SETTLEMENT, ErrorCode.WRONG_BUSINESS_TYPE),
    ],
)
def test_rejections_match_the_sync_verifier(
    token: str, verifier: Verifier, text: str | None, business: BusinessType, code: ErrorCode
) -> None:
    candidate = token if text is None else text
    with pytest.raises(TokenRejected) as sync_err:
        verifier.check(candidate, business, now=verifier.policy.clock())
    with pytest.raises(TokenRejected) as async_err:
        asyncio.run(AsyncVerifier(verifier).verify(candidate, business))
    assert sync_err.value.code is async_err.value.code is code


def test_rejected_token_does_not_touch_the_store(
    verifier: Verifier, clock: FixedClock
) -> None:
    store = NativeAsyncStore()
    with pytest.raises(TokenRejected):
        asyncio.run(AsyncVerifier(verifier, store).verify("EC1:0000", REG))
    assert store.round_trips == 0


def test_expired_by_injected_now(token: str, verifier: Verifier, clock: FixedClock) -> None:
    with pytest.raises(TokenRejected) as err:
        asyncio.run(AsyncVerifier(verifier).verify(token, REG, now=clock.now + 3600))
    assert err.value.code is ErrorCode.EXPIRED


def test_native_async_store_is_awaited_on_the_loop(
    token: str, verifier: Verifier, clock: FixedClock
) -> None:
    store = NativeAsyncStore()
    assert isinstance(store, AsyncReplayStore)

    async def run() -> int:
        await AsyncVerifier(verifier, store).verify(token, REG)
        return threading.get_ident()

    assert asyncio.run(run()) == store.loop_thread
    assert store.round_trips == 1


def test_verify_many_one_round_trip_outcomes_in_order(
    issuer: Issuer, credential: Credential, verifier: Verifier, clock: FixedClock
) -> None:
    a = issuer.mint(credential, REG)
    b = issuer.mint(credential, REG)
    store = NativeAsyncStore()
    batch = [a, "EC1:garbage", a, b, issuer.mint(credential, BusinessType.PHARMACY_PURCHASE)]
    outcomes = asyncio.run(AsyncVerifier(verifier, store).verify_many(batch, REG))
    assert store.round_trips == 1
    assert isinstance(outcomes[0], VerifiedToken)
    assert isinstance(outcomes[3], VerifiedToken)
    assert outcomes[0].claims.token_id != outcomes[3].claims.token_id
    codes = [o.code if isinstance(o, TokenRejected) else None for o in outcomes]
    assert codes == [
        None, ErrorCode.MALFORMED, ErrorCode.REPLAYED, None, ErrorCode.WRONG_BUSINESS_TYPE
    ]


def test_verify_many_with_nothing_valid_skips_the_store(
    verifier: Verifier, clock: FixedClock
) -> None:
    store = NativeAsyncStore()
    outcomes = asyncio.run(AsyncVerifier(verifier, store).verify_many(["x", b"EC1:"], REG))
    assert store.round_trips == 0
    assert all(isinstance(o, TokenRejected) and o.code is ErrorCode.MALFORMED for o in outcomes)


def test_unreachable_store_fails_closed(
    token: str, verifier: Verifier, clock: FixedClock
) -> None:
    store = NativeAsyncStore()
    store.reachable = False
    averifier = AsyncVerifier(verifier, store)
    with pytest.raises(StoreUnavailable) as err:
        asyncio.run(averifier.verify(token, REG))
    assert err.value.code is ErrorCode.STORE_UNAVAILABLE
    outcomes = asyncio.run(averifier.verify_many([token, "EC1:"], REG))
    assert isinstance(outcomes[0], StoreUnavailable)
    assert isinstance(outcomes[1], TokenRejected)
    assert outcomes[1].code is ErrorCode.MALFORMED  # other rejections stand
    store.reachable = True
    assert asyncio.run(averifier.verify(token, REG)).subject == "E4Q7ZK2M9PXA"


class HungStore:
    """A store whose answer never comes (a half-open TCP connection)."""

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_hung_store_times_out_closed(token: str, verifier: Verifier) -> None:
    averifier = AsyncVerifier(verifier, HungStore(), store_timeout=0.01)
    with pytest.raises(StoreUnavailable, match="timed out"):
        asyncio.run(averifier.verify(token, REG))


class NonsenseStore(HungStore):
    """A store that answers with the wrong type or the wrong number of results."""

    async def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        return "ok"  # type: ignore[return-value]

    async def check_and_mark_many(
        self, entries: Sequence[ReplayEntry], now: int
    ) -> list[MarkResult]:
        return [MarkResult.FIRST_USE] * (len(entries) + 1)


def test_invalid_store_answers_fail_closed(token: str, verifier: Verifier) -> None:
    averifier = AsyncVerifier(verifier, NonsenseStore())
    with pytest.raises(StoreUnavailable):
        asyncio.run(averifier.verify(token, REG))
    outcomes = asyncio.run(averifier.verify_many([token], REG))
    assert [type(o) for o in outcomes] == [StoreUnavailable]


def test_fenced_maps_to_possibly_replayed(
    token: str, verifier: Verifier, clock: FixedClock
) -> None:
    # A store whose memory began after the token was issued cannot rule out a use.
    later = FixedClock(clock.now + 1)
    averifier = AsyncVerifier(verifier, ThreadedReplayStore(MemoryReplayStore(clock=later)))
    with pytest.raises(TokenRejected) as err:
        asyncio.run(averifier.verify(token, REG, now=later.now))
    assert err.value.code is ErrorCode.POSSIBLY_REPLAYED


@pytest.mark.parametrize("timeout", [0, -1, True, "2"])
def test_bad_arguments(verifier: Verifier, timeout: object) -> None:
    with pytest.raises(InvalidArgument):
        AsyncVerifier(verifier, store_timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        AsyncVerifier(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        AsyncVerifier(verifier, object())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        ThreadedReplayStore(object())  # type: ignore[arg-type]
