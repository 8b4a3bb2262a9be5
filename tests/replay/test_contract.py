"""What every replay store promises (memory, SQLite, Redis), through the real verifier."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    TokenRejected,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, ReplayEntry, ReplayStore

from .conftest import NOW, StoreFactory

REG = BusinessType.HOSPITAL_REGISTRATION
LEEWAY = VerifyPolicy().leeway
STARTED = NOW - 3600
"""When a running terminal's store memory began: long before the tokens of these tests."""


def verifier_with(keys: KeyDir, store: ReplayStore, clock: FixedClock) -> Verifier:
    return Verifier(keys.trust_store(), VerifyPolicy(clock=clock), replay_store=store)


def rejection(verifier: Verifier, token: str) -> ErrorCode:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, REG)
    return info.value.code


def entry(token_id: bytes, issuer: str = "NHSA", issued: int = NOW, life: int = 65) -> ReplayEntry:
    return ReplayEntry(issuer, token_id, issued, issued + life)


def test_is_a_replay_store(make_store: StoreFactory, clock: FixedClock) -> None:
    assert isinstance(make_store(clock), ReplayStore)


def test_second_use_is_replayed(
    make_store: StoreFactory, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    verifier = verifier_with(keys, make_store(FixedClock(STARTED)), clock)
    verifier.verify(token, REG)
    clock.advance(30)
    assert rejection(verifier, token) is ErrorCode.REPLAYED


def test_re_encrypted_envelope_is_still_caught(
    make_store: StoreFactory, keys: KeyDir, clock: FixedClock, issuer: Issuer, token: str
) -> None:
    verifier = verifier_with(keys, make_store(FixedClock(STARTED)), clock)
    claims = verifier.check(token, REG, now=NOW).claims
    again = issuer.mint_claims(claims)  # same signed token, fresh nonce: other text
    assert again != token
    verifier.verify(token, REG)
    assert rejection(verifier, again) is ErrorCode.REPLAYED


@pytest.mark.parametrize("make_store", ["sqlite", "redis"], indirect=True)
def test_another_store_instance_on_the_same_backing_sees_the_id(
    make_store: StoreFactory, keys: KeyDir, clock: FixedClock, token: str
) -> None:
    started = FixedClock(STARTED)
    first = make_store(started)
    verifier_with(keys, first, clock).verify(token, REG)
    second = make_store(started)
    assert rejection(verifier_with(keys, second, clock), token) is ErrorCode.REPLAYED


def test_batch_marks_in_order(make_store: StoreFactory, clock: FixedClock) -> None:
    store = make_store(clock)
    ids = [bytes([i]) * 8 for i in range(40)]
    batch = [entry(i) for i in ids] + [entry(ids[3]), entry(ids[0])]
    results = store.check_and_mark_many(batch, NOW)
    assert results == [MarkResult.FIRST_USE] * 40 + [MarkResult.REPLAYED] * 2
    assert store.check_and_mark_many([entry(ids[7]), entry(b"new-id-1")], NOW) == [
        MarkResult.REPLAYED,
        MarkResult.FIRST_USE,
    ]
    assert store.check_and_mark_many([], NOW) == []


def test_key_is_issuer_and_token_id(make_store: StoreFactory, clock: FixedClock) -> None:
    store = make_store(clock)
    assert store.check_and_mark(entry(b"same-id!", issuer="NHSA"), NOW) is MarkResult.FIRST_USE
    assert store.check_and_mark(entry(b"same-id!", issuer="GD-HSA"), NOW) is MarkResult.FIRST_USE
    assert store.check_and_mark(entry(b"same-id!", issuer="NHSA"), NOW) is MarkResult.REPLAYED


@pytest.fixture
def mint_at(issuer: Issuer, credential: Credential) -> Callable[[int], str]:
    """Mints a registration token issued at a given time."""
    return lambda iat: issuer.mint(credential, REG, now=iat)


def test_tokens_issued_before_memory_began_are_fenced(
    make_store: StoreFactory,
    keys: KeyDir,
    clock: FixedClock,
    token: str,
    mint_at: Callable[[int], str],
) -> None:
    clock.advance(10)  # the store's memory begins 10 s after the token was issued
    began = clock()
    # The store's own clock stays at `began`: Redis sets each key group's marker on
    # that group's first check, and every group's memory must begin at `began` here.
    verifier = verifier_with(keys, make_store(FixedClock(began)), clock)
    assert rejection(verifier, token) is ErrorCode.POSSIBLY_REPLAYED
    # Issued up to one leeway after the memory began: an issuer clock that far ahead
    # means it could have been used in the memory's first second (or just before).
    for iat in (began, began + LEEWAY):
        assert rejection(verifier, mint_at(iat)) is ErrorCode.POSSIBLY_REPLAYED
    fresh = mint_at(began + LEEWAY + 1)  # the first iat that cannot predate the memory
    assert rejection(verifier, fresh) is ErrorCode.NOT_YET_VALID  # not usable at `began`
    clock.advance(1)
    verifier.verify(fresh, REG)
    assert rejection(verifier, fresh) is ErrorCode.REPLAYED
    edge = mint_at(began + LEEWAY)
    assert rejection(verifier, edge) is ErrorCode.POSSIBLY_REPLAYED  # still, a second later
    # After one lifetime the old token is no longer a fencing question: it has expired.
    clock.advance(305)
    assert rejection(verifier, token) is ErrorCode.EXPIRED


def test_fenced_entries_are_not_marked(make_store: StoreFactory, clock: FixedClock) -> None:
    clock.advance(10)
    store = make_store(clock)
    old = entry(b"old-id-1", issued=NOW)
    assert store.check_and_mark(old, NOW + 10) is MarkResult.FENCED
    assert store.check_and_mark(old, NOW + 10) is MarkResult.FENCED
    assert store.check_and_mark_many([old, entry(b"new-id-1", issued=NOW + 10)], NOW + 10) == [
        MarkResult.FENCED,
        MarkResult.FIRST_USE,
    ]


def attempted(token_id: bytes, attempt: bytes, issued: int = NOW) -> ReplayEntry:
    return ReplayEntry("NHSA", token_id, issued, issued + 65, attempt)


def test_an_id_marked_with_the_same_attempt_is_own_mark(
    make_store: StoreFactory, clock: FixedClock
) -> None:
    """Lost replies: the store keeps each id's attempt value; the same value again is
    OWN_MARK (that attempt's earlier mark), any other value or none is REPLAYED."""
    store = make_store(FixedClock(STARTED))
    mine = attempted(b"attempt1", b"A" * 16)
    assert store.check_and_mark(mine, NOW) is MarkResult.FIRST_USE
    assert store.check_and_mark(mine, NOW + 1) is MarkResult.OWN_MARK
    assert store.check_and_mark(attempted(b"attempt1", b"B" * 16), NOW + 1) is MarkResult.REPLAYED
    assert store.check_and_mark(entry(b"attempt1"), NOW + 1) is MarkResult.REPLAYED
    assert store.check_and_mark_many(
        [mine, attempted(b"attempt1", b"C" * 16), attempted(b"attempt2", b"D" * 16),
         attempted(b"attempt2", b"E" * 16)], NOW + 2,
    ) == [MarkResult.OWN_MARK, MarkResult.REPLAYED, MarkResult.FIRST_USE, MarkResult.REPLAYED]
    # An id marked without an attempt value never matches an empty one.
    assert store.check_and_mark(entry(b"attempt3"), NOW) is MarkResult.FIRST_USE
    assert store.check_and_mark(entry(b"attempt3"), NOW) is MarkResult.REPLAYED


def test_a_verifier_refuses_a_store_built_for_another_leeway(
    make_store: StoreFactory, keys: KeyDir, clock: FixedClock
) -> None:
    """Defect 2: verifiers sharing a store must agree on the leeway (it decides how long
    ids are kept and which tokens are fenced)."""
    from ecert_token import InvalidArgument

    store = make_store(FixedClock(STARTED))  # the default leeway, 5 s
    with pytest.raises(InvalidArgument):
        Verifier(keys.trust_store(), VerifyPolicy(clock=clock, leeway=10), replay_store=store)
    assert Verifier(keys.trust_store(), VerifyPolicy(clock=clock), replay_store=store)
