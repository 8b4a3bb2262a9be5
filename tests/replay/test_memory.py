"""The in-memory store: expiry by buckets, thread races through the real verifier."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    FixedClock,
    InvalidArgument,
    Issuer,
    TokenRejected,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, MemoryReplayStore, ReplayEntry
from tests.conftest import running_store

from .conftest import NOW

FIRST, REPLAYED = MarkResult.FIRST_USE, MarkResult.REPLAYED


def entry(token_id: bytes, expires_at: int, issued_at: int = NOW) -> ReplayEntry:
    """``issued_at`` is the entry's (the code's ``iat`` minus the leeway and a second):
    the store's horizon never runs past the newest ``iat`` it was given."""
    return ReplayEntry("NHSA", token_id, issued_at, expires_at)


def test_ids_leave_the_store_at_their_expiry(clock: FixedClock) -> None:
    store = MemoryReplayStore(max_lifetime=305, clock=clock)
    short, long = entry(b"short-id", NOW + 65), entry(b"long--id", NOW + 305)
    assert store.check_and_mark_many([short, long], NOW) == [FIRST, FIRST]
    assert store.check_and_mark(short, NOW + 64) is REPLAYED
    assert store.held() == 2
    assert store.check_and_mark(long, NOW + 65) is REPLAYED
    # Time alone does not move the horizon past the newest code issued (NOW):
    assert store.held() == 2
    # a code issued at NOW + 65 does, and the short id is forgotten at NOW + 65.
    assert store.check_and_mark(entry(b"new--065", NOW + 300, NOW + 65), NOW + 65) is FIRST
    assert store.held() == 2
    # An expired token's id: forgotten, so the store cannot call it a first use.
    assert store.check_and_mark(short, NOW + 65) is MarkResult.FENCED
    store.check_and_mark(entry(b"other-id", NOW + 400, NOW + 305), NOW + 305)
    assert store.held() == 1  # only the newest is left


def test_a_long_idle_gap_purges_everything_due(clock: FixedClock) -> None:
    store = MemoryReplayStore(clock=clock)
    store.check_and_mark_many([entry(bytes([i]) * 8, NOW + 10 + i) for i in range(50)], NOW)
    assert store.held() == 50
    store.check_and_mark(entry(b"late--id", NOW + 10**6 + 60, NOW + 10**6), NOW + 10**6)
    assert store.held() == 1


def test_an_id_expiring_at_a_second_already_purged_is_never_a_first_use(
    clock: FixedClock,
) -> None:
    store = MemoryReplayStore(clock=clock)
    store.check_and_mark(entry(b"first-id", NOW + 60, NOW + 50), NOW + 50)
    # A caller with a slower clock marks an id that expires at a second already
    # purged: it may have been used and forgotten (tests/redteam/test_replay_boundary.py).
    late = entry(b"late--id", NOW + 40)
    assert store.check_and_mark(late, NOW + 30) is MarkResult.FENCED
    assert store.check_and_mark_many([late], NOW + 30) == [MarkResult.FENCED]
    assert store.held() == 1  # not marked


def test_rejects_a_nonsense_lifetime(clock: FixedClock) -> None:
    with pytest.raises(InvalidArgument):
        MemoryReplayStore(max_lifetime=0, clock=clock)
    assert MemoryReplayStore(max_lifetime=305, clock=clock).fenced_until == NOW + 305


def test_threads_racing_on_one_store_accept_each_token_once(
    keys: KeyDir, clock: FixedClock, issuer: Issuer, credential: Credential
) -> None:
    tokens = [issuer.mint(credential, BusinessType.HOSPITAL_REGISTRATION) for _ in range(1000)]
    store = running_store()  # a terminal running since before the tokens were issued
    assert store  # truthy while empty, so Verifier keeps it
    trust = keys.trust_store()
    start = threading.Barrier(8)
    accepted: list[list[int]] = [[] for _ in range(8)]
    codes: set[str] = set()

    def work(n: int) -> None:
        verifier = Verifier(trust, VerifyPolicy(clock=clock), replay_store=store)
        order = list(range(len(tokens)))
        order = order[n * 125 :] + order[: n * 125]  # each thread starts elsewhere
        start.wait()
        for i in order:
            try:
                verifier.verify(tokens[i], BusinessType.HOSPITAL_REGISTRATION)
            except TokenRejected as exc:
                codes.add(exc.code.value)
            else:
                accepted[n].append(i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = sorted(i for per_thread in accepted for i in per_thread)
    assert everything == list(range(1000))
    assert codes == {"replayed"}


@given(
    st.lists(
        st.tuples(st.sampled_from(["NHSA", "BJ", "SN-61"]), st.integers(0, 5),
                  st.integers(-20, 20), st.integers(1, 90), st.integers(0, 3)),
        max_size=60,
    )
)
@settings(max_examples=200, deadline=None)
def test_single_path_matches_the_batch_path(ops: list[tuple[str, int, int, int, int]]) -> None:
    """check_and_mark (the written-out fast path) and check_and_mark_many agree, step by step."""
    began = 1_790_000_000
    single = MemoryReplayStore(max_lifetime=100, clock=lambda: began)
    batch = MemoryReplayStore(max_lifetime=100, clock=lambda: began)
    now = began
    for issuer, token, issued, life, step in ops:
        now += step
        entry = ReplayEntry(issuer, bytes([token]) * 8, began + issued, began + issued + life)
        assert single.check_and_mark(entry, now) == batch.check_and_mark_many([entry], now)[0]
        assert single.held() == batch.held()


def test_a_million_ids_expiring_in_one_second_are_purged_in_steps() -> None:
    """Incremental purge: a bucket of 10^6 ids is removed PURGE_STEP ids per call, and
    while the backlog drains the horizon still holds: an expired id not yet purged is
    REPLAYED, never FIRST_USE; a forgotten one is FENCED.  (Its timing is in
    benchmarks/bench_replay.py.)"""
    from ecert_token.replay.memory import PURGE_STEP

    store = MemoryReplayStore(max_lifetime=305, clock=lambda: NOW - 3600)
    count = 1_000_000
    expires = NOW + 65
    marks = store.check_and_mark_many(
        [ReplayEntry("NHSA", i.to_bytes(8, "big"), NOW, expires) for i in range(count)], NOW
    )
    assert marks.count(MarkResult.FIRST_USE) == count
    first, last = (ReplayEntry("NHSA", i.to_bytes(8, "big"), NOW, expires) for i in (0, count - 1))
    calls = 0
    later = expires + 1
    while store.held():
        before = store.held()
        fresh = ReplayEntry("NHSA", b"fresh-%d" % calls, later, later + 65)
        assert store.check_and_mark(fresh, later) is MarkResult.FIRST_USE
        calls += 1
        assert before + 1 - store.held() <= PURGE_STEP  # bounded work per call
        # Both ends of the bucket: purged (FENCED) or still held (REPLAYED), never new.
        assert store.check_and_mark(first, later - 3) in (MarkResult.FENCED, MarkResult.REPLAYED)
        assert store.check_and_mark(last, later - 3) in (MarkResult.FENCED, MarkResult.REPLAYED)
        if store.held() <= calls:  # only the fresh ids are left
            break
    assert calls >= count // PURGE_STEP  # it took many calls: the work was spread
    assert not store.backlog()
    assert store.held() == calls
    assert store.check_and_mark(first, later) is MarkResult.FENCED
