"""A verifier whose clock runs far ahead of the others, sharing a store (docs/security.md,
"A clock far ahead").

The memory and SQLite stores forget an id once their purge horizon passes its expiry,
and refuse as possibly replayed any id expiring at or before the horizon.  The horizon
used to follow the latest ``now`` any caller gave: one verifier whose clock was ahead
by D seconds (less than a code's lifetime, or it refuses every code as expired and
never reaches the store) moved it D seconds into the future, and every honest verifier
then refused, as possibly replayed, the never-used codes expiring within D seconds of
its own time.  Now the horizon never runs past the newest token ``iat`` the store has
been given (signed by the issuer, so a verifier's clock cannot move it).  Redis decides
its horizon by the server's clock and is held to the same tests.

Each test here fails on the code before that change (the honest codes read
``possibly_replayed``), except the Redis ones, which guard what Redis already did.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    MemoryReplayStore,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, ReplayEntry, ReplayStore, SqliteReplayStore

from .conftest import NOW, need_redis
from .redis_server import RedisServer
from .test_lost_replies import code_of
from .verifier_process import begin_memory, release, spawn

REG = BusinessType.HOSPITAL_REGISTRATION
AHEAD = 150
"""How far the fast verifier's clock runs ahead (within a 300 s code's lifetime)."""
STARTED = NOW - 3600
"""When the shared store's memory began: it has served for an hour."""


@pytest.fixture(params=["memory", "sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], ReplayStore]]:
    """A factory of store objects sharing one memory: two SQLite objects stand for two
    processes on one file, two Redis objects for two terminals on one server; the
    memory store is one object."""
    if request.param == "memory":
        shared = MemoryReplayStore(305, clock=lambda: STARTED)
        yield lambda: shared
        return
    if request.param == "sqlite":
        yield lambda: SqliteReplayStore(tmp_path / "replay.db", 305, clock=lambda: STARTED)
        return
    need_redis()
    from ecert_token.replay.redis import RedisReplayStore

    server = RedisServer(tmp_path / "redis")
    server.start()
    opened: list[RedisReplayStore] = []

    def redis_store() -> ReplayStore:
        store = RedisReplayStore.from_url(server.url, 305, clock=lambda: STARTED)
        opened.append(store)
        return store

    try:
        yield redis_store
    finally:
        for store in opened:
            store.close()
        server.stop()


def _mint(issuer: Issuer, credential: Credential, issued: int) -> str:
    return issuer.mint(credential, REG, now=issued, ttl=300)


def _verifiers(keys: KeyDir, stores: Callable[[], ReplayStore]) -> tuple[Verifier, Verifier]:
    honest = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)), stores())
    fast = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW + AHEAD)), stores())
    return honest, fast


def test_a_verifier_ahead_never_lets_a_code_be_accepted_twice(
    keys: KeyDir, issuer: Issuer, credential: Credential, stores: Callable[[], ReplayStore],
) -> None:
    honest, fast = _verifiers(keys, stores)
    used = _mint(issuer, credential, NOW - 250)  # expires at NOW + 50: before the fast clock
    assert code_of(honest, used) is None
    assert code_of(fast, _mint(issuer, credential, NOW - 10)) is None
    assert code_of(honest, used) is ErrorCode.REPLAYED  # still remembered
    assert code_of(fast, used) is ErrorCode.EXPIRED


def test_a_verifier_ahead_does_not_turn_away_honest_codes(
    keys: KeyDir, issuer: Issuer, credential: Credential, stores: Callable[[], ReplayStore],
) -> None:
    """A never-used, valid code expiring (NOW + 100) before the fast verifier's time
    (NOW + 150) is accepted by the honest verifier, once: before the fix it read
    ``possibly_replayed``."""
    honest, fast = _verifiers(keys, stores)
    fresh = _mint(issuer, credential, NOW - 200)
    assert code_of(fast, _mint(issuer, credential, NOW - 10)) is None
    assert code_of(honest, fresh) is None
    assert code_of(honest, fresh) is ErrorCode.REPLAYED
    assert code_of(fast, fresh) is ErrorCode.EXPIRED


def test_codes_near_their_end_are_accepted_while_a_verifier_ahead_keeps_verifying(
    keys: KeyDir, issuer: Issuer, credential: Credential, stores: Callable[[], ReplayStore],
) -> None:
    """Interleaved: every honest code of every age is accepted once, whatever the fast
    verifier marks in between (its codes as new as the issuer's clock allows)."""
    honest, fast = _verifiers(keys, stores)
    for age in range(295, 0, -15):
        assert code_of(fast, _mint(issuer, credential, NOW)) is None
        code = _mint(issuer, credential, NOW - age)
        assert code_of(honest, code) is None, age
        assert code_of(honest, code) is ErrorCode.REPLAYED


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_call_far_ahead_does_not_forget_ids_of_live_codes(tmp_path: Path, kind: str) -> None:
    """At the store: a ``now`` 300 s ahead moves the horizon only to the newest ``iat``
    given (entries carry ``iat - leeway - 1``), so a live id stays REPLAYED, and an id
    expiring before that ``iat`` is still refused (FENCED), never a first use."""
    store: ReplayStore
    if kind == "memory":
        store = MemoryReplayStore(305, clock=lambda: STARTED)
    else:
        store = SqliteReplayStore(tmp_path / "replay.db", 305, clock=lambda: STARTED)
    live = ReplayEntry("NHSA", b"live--id", NOW - 106, NOW + 200)
    gone = ReplayEntry("NHSA", b"gone--id", NOW - 300, NOW - 1)
    assert store.check_and_mark_many([live, gone], NOW - 2) == [MarkResult.FIRST_USE] * 2
    newest = ReplayEntry("NHSA", b"newest!!", NOW - 6, NOW + 305)  # issued at NOW
    assert store.check_and_mark(newest, NOW + 300) is MarkResult.FIRST_USE
    assert store.check_and_mark(live, NOW) is MarkResult.REPLAYED
    assert store.check_and_mark(gone, NOW - 5) is MarkResult.FENCED
    fresh = ReplayEntry("NHSA", b"fresh-id", NOW - 56, NOW + 1)
    assert store.check_and_mark(fresh, NOW) is MarkResult.FIRST_USE


def test_processes_ahead_racing_honest_ones_take_no_honest_code_away(
    store_spec: str, keydir_path: Path, tmp_path: Path, issuer: Issuer, credential: Credential,
) -> None:
    """Real processes on one SQLite file (or one Redis): two verifiers 150 s ahead race
    three honest ones over 60 codes of every age.  Each code is accepted exactly once;
    the codes too old for the fast clock are the honest verifiers' (before the fix they
    read ``possibly_replayed`` there and were never accepted); nothing else is refused
    but as ``replayed`` or, at the fast verifiers, ``expired``."""
    begin_memory(store_spec, STARTED)
    fresh_file, mixed_file = tmp_path / "fresh.txt", tmp_path / "mixed.txt"
    fresh_file.write_text("".join(_mint(issuer, credential, NOW - i) + "\n" for i in range(5)))
    ages = [5 + 5 * i for i in range(58)]  # 5 s to 290 s old, all valid at NOW
    mixed_file.write_text("".join(_mint(issuer, credential, NOW - a) + "\n" for a in ages))
    # A fast verifier has been at work already: it marked fresh codes at NOW + 150.
    first = release([spawn(keydir_path, fresh_file, store_spec, NOW + AHEAD)])
    assert len(first[0].accepted) == 5 and first[0].done
    children = [spawn(keydir_path, mixed_file, store_spec, NOW + AHEAD, seed=s) for s in (1, 2)]
    children += [spawn(keydir_path, mixed_file, store_spec, NOW, seed=s) for s in (3, 4, 5)]
    outcomes = release(children)
    fast, honest = outcomes[:2], outcomes[2:]
    accepted = Counter(i for o in fast + honest for i in o.accepted)
    assert sorted(accepted) == list(range(len(ages)))
    assert set(accepted.values()) == {1}
    assert all(o.done for o in outcomes)
    too_old = {i for i, age in enumerate(ages) if NOW - age + 300 + 5 <= NOW + AHEAD}
    assert too_old and too_old <= {i for o in honest for i in o.accepted}
    assert Counter(c for o in honest for c in o.rejected.values()).keys() <= {"replayed"}
    assert Counter(c for o in fast for c in o.rejected.values()).keys() <= {"replayed", "expired"}



@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=120, deadline=None, derandomize=True)
@given(ops=st.lists(st.tuples(st.integers(0, 15), st.integers(-400, 400), st.booleans()),
                    max_size=40))
def test_any_clocks_never_give_one_id_two_first_uses(
    kind: str, ops: list[tuple[int, int, bool]],
) -> None:
    """Whatever ``now`` callers give (far ahead, behind, in any order), an id (always
    with the same expiry, as verifiers send it) is a first use at most once: the
    horizon may be bounded, but the store forgets exactly up to it and refuses what
    expires at or before it.  SQLite: two store objects (two processes) on one file."""
    with tempfile.TemporaryDirectory() as directory:
        stores: list[ReplayStore]
        if kind == "memory":
            stores = [MemoryReplayStore(305, clock=lambda: STARTED)] * 2
        else:
            path = Path(directory) / "replay.db"
            stores = [SqliteReplayStore(path, 305, clock=lambda: STARTED) for _ in range(2)]
        firsts: Counter[int] = Counter()
        for token, caller_offset, second in ops:
            iat = NOW - 300 + 25 * token  # each id: one iat and one expiry, 60 s later
            entry = ReplayEntry("NHSA", bytes([token]) * 8, iat - 6, iat + 60 + 5)
            store = stores[second]
            if store.check_and_mark(entry, NOW + caller_offset) is MarkResult.FIRST_USE:
                firsts[token] += 1
        for store in stores:
            getattr(store, "close", lambda: None)()
    assert all(n == 1 for n in firsts.values()), firsts
