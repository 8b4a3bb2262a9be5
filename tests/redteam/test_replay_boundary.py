"""Replay at the end of a token's life: a store must not forget an id that a verifier
with a slightly older "now" (another thread, a batch that began a moment earlier, a
process whose clock read came first) can still accept.

The verifier accepts a token while ``now < exp + leeway`` and the store forgets its id
once some caller's ``now`` reaches ``exp + leeway``.  Callers' ``now`` values are not
monotonic across threads and processes, so without care a use with the earlier ``now``
that reaches the store after the purge is a second FIRST_USE.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecert_token import (
    BusinessType,
    Credential,
    ErrorCode,
    FixedClock,
    Issuer,
    MemoryReplayStore,
    TokenRejected,
    Verifier,
    VerifyPolicy,
)
from ecert_token.keys.keydir import KeyDir
from ecert_token.replay import MarkResult, ReplayEntry, ReplayStore, SqliteReplayStore
from tests.conftest import NOW

REG = BusinessType.HOSPITAL_REGISTRATION
STARTED = NOW - 3600


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore(max_lifetime=305, clock=lambda: STARTED)
    else:
        with SqliteReplayStore(tmp_path / "replay.db", clock=lambda: STARTED) as sqlite:
            yield sqlite


def test_a_use_with_an_earlier_now_after_the_purge_is_not_a_first_use(
    store: ReplayStore, keys: KeyDir, issuer: Issuer, credential: Credential
) -> None:
    verifier = Verifier(keys.trust_store(), VerifyPolicy(clock=FixedClock(NOW)), store)
    token = issuer.mint(credential, REG, now=NOW)  # accepted while now < NOW + 60 + 5
    last = NOW + 60 + verifier.policy.leeway - 1
    verifier.verify(token, REG, now=NOW + 10)
    # Another thread's verification, whose clock read came a second later, purges.
    verifier.verify(issuer.mint(credential, REG, now=NOW + 50), REG, now=last + 1)
    # The replay, checked with a "now" read just before that second ended.
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, REG, now=last)
    assert info.value.code in (ErrorCode.REPLAYED, ErrorCode.POSSIBLY_REPLAYED)


def test_an_entry_expiring_before_the_purge_horizon_is_refused(store: ReplayStore) -> None:
    used = ReplayEntry("NHSA", b"used-id!", NOW, NOW + 65)
    assert store.check_and_mark(used, NOW) is MarkResult.FIRST_USE
    # A code issued at NOW + 70 (issued_at: iat - leeway - 1), marked at NOW + 70.
    store.check_and_mark(ReplayEntry("NHSA", b"other-id", NOW + 64, NOW + 200), NOW + 70)
    # The store may have forgotten `used`: it cannot say "first use" for it.
    assert store.check_and_mark(used, NOW + 60) is MarkResult.FENCED
    assert store.check_and_mark_many([used], NOW + 60) == [MarkResult.FENCED]
    # An id the store can still vouch for is unaffected.
    fresh = ReplayEntry("NHSA", b"fresh-id", NOW + 60, NOW + 125)
    assert store.check_and_mark(fresh, NOW + 60) is MarkResult.FIRST_USE
