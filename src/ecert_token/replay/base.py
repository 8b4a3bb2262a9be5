"""The replay-store interface: one atomic check-and-mark per token id.

A token id may be accepted once.  The key is the issuer and the token id
(never the token's bytes, so a re-encrypted envelope around the same signed
token is still caught).  A store keeps an id only until the entry's
``expires_at``, so its memory is bounded by the lifetime window.  Verifiers
that share a store must use the same leeway: the first one to mark an id
decides how long it is kept.

Restart fencing: a store that may have lost its memory (a new in-memory store,
a restarted or flushed Redis, a new SQLite file) knows when its memory began.
A token that could have been used before that moment may have been, so the
store answers :attr:`MarkResult.FENCED` for it instead of accepting it.  Such
tokens stop being valid soon after the memory began (at most one maximum token
lifetime plus twice the leeway, with the rule below), so after that the fence
no longer turns anyone away.  The rule is applied to every token, not only
within that window: a store configured with a too-short ``max_lifetime`` then
still cannot be replayed through.

Lost replies: an entry carries ``attempt``, a value unique to one verifier's
attempt at marking it, and the store keeps it with the id.  A mark that finds
the id already marked with the same attempt value answers
:attr:`MarkResult.OWN_MARK`: the store did record this very attempt earlier
but its answer never reached the verifier.  Only the verifier that remembers
that attempt as "outcome unknown" may accept on it (see
:mod:`ecert_token.token.attempts`); to everyone else it is a replay.

Terms: every verifier sharing a store must use the same leeway (it decides how
long an id is kept and the fencing rule above).  A store is built with its
``leeway``, records it where its memory lives when that memory begins, and
refuses (StoreUnavailable) to work on a memory recorded with other terms; the
verifier refuses (InvalidArgument) a store built for another leeway.

Granularity: times are whole seconds.  ``ReplayEntry.issued_at`` is not the
token's ``iat`` but the earliest time the token could have been used: the
verifier passes ``iat - leeway - 1`` (an issuer clock may run up to one leeway
ahead of the verifier's, and a use in the very second the memory was lost must
count as before it).  Stores compare strictly, ``issued_at < memory_began``.
So with memory beginning at ``B`` and leeway ``L``, every token with
``iat <= B + L`` is fenced and ``iat = B + L + 1`` is the first one accepted:
nothing can be replayed by restarting a store.  A verifier started at ``B``
therefore refuses (as possibly replayed) tokens issued up to ``L`` seconds
after it started; a terminal that must accept those needs a store whose memory
began earlier (a SQLite file or a Redis that outlives the process).

Horizon (memory and SQLite stores): an id is forgotten once its ``expires_at``
is at or before the store's horizon, and from then on an entry expiring at or
before the horizon is FENCED (it may have been used and forgotten).  Any
horizon that only rises is safe; what moves it decides availability only.  It
is the latest ``now`` a caller gave, but never past the newest token issue
time the store has been given (:func:`horizon_bound`): an ``iat`` is signed by
the issuer, so a verifier whose clock runs far ahead cannot drag the horizon
past the codes honest verifiers are still accepting.  (Redis decides its
horizon by the server's clock.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from ..errors import InvalidArgument

DEFAULT_LEEWAY = 5
"""The verifier's default clock tolerance (seconds); stores default to it too."""
MAX_LEEWAY = 30


class MarkResult(Enum):
    """Outcome of one check-and-mark."""

    FIRST_USE = "first_use"
    REPLAYED = "replayed"
    FENCED = "fenced"
    OWN_MARK = "own_mark"
    """The id was already marked with this entry's own ``attempt`` value: an
    earlier call of the same attempt reached the store but its answer was lost."""


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    """What a store needs to know about one verified token.

    ``issued_at`` is, for fencing, the earliest time the token could have
    been used (the verifier passes its ``iat`` minus leeway minus one second;
    see the module docstring); ``expires_at`` is the last moment a verifier
    could still accept it (expiry plus leeway): the store keeps the id until
    then and forgets it at ``expires_at``.  ``attempt`` identifies the
    verifier's attempt at marking it (kept with the id; empty: no attempt
    value, never :attr:`MarkResult.OWN_MARK`).
    """

    issuer: str
    token_id: bytes
    issued_at: int
    expires_at: int
    attempt: bytes = b""


TERMS_MISMATCH = "the replay store's memory was begun with different terms (leeway)"
"""The fixed detail of the StoreUnavailable a store raises for a memory recorded
with another leeway (or skew) than its own."""


def check_leeway(leeway: object) -> int:
    """``leeway`` as a store takes it: whole seconds, 0 to MAX_LEEWAY (the policy's range)."""
    if isinstance(leeway, bool) or not isinstance(leeway, int) or not 0 <= leeway <= MAX_LEEWAY:
        raise InvalidArgument(f"leeway must be 0 to {MAX_LEEWAY} seconds")
    return leeway


def own_mark(entry: ReplayEntry, recorded: bytes | None) -> MarkResult:
    """The answer for an id found already marked with attempt value ``recorded``."""
    if entry.attempt and recorded == entry.attempt:
        return MarkResult.OWN_MARK
    return MarkResult.REPLAYED


def is_fenced(entry: ReplayEntry, memory_began: int) -> bool:
    """Could ``entry`` have been used before the store's memory began?

    Strict: ``entry.issued_at`` is already the earliest possible use, so an
    entry whose earliest use is the memory's first second is not fenced.
    """
    return entry.issued_at < memory_began


def issue_time(entry: ReplayEntry, leeway: int) -> int:
    """The token's own ``iat``, from an entry (whose ``issued_at`` is ``iat - leeway - 1``)."""
    return entry.issued_at + leeway + 1


def horizon_bound(now: int, newest_issue: int) -> int:
    """How far a call at ``now`` may move a store's horizon: ``now``, but never past
    ``newest_issue``, the newest token ``iat`` the store has been given.

    Honest issuers' clocks are within the leeway of honest verifiers', so an
    honest verifier at ``v`` only ever meets a horizon at or before ``v + leeway``
    (what verifiers within the leeway of each other already cause), however far
    ahead another caller's clock runs.
    """
    return now if now < newest_issue else newest_issue


@runtime_checkable
class ReplayStore(Protocol):
    """Atomic, bounded memory of used token ids.

    ``now`` is the caller's time in Unix seconds: an id whose ``expires_at``
    is at or before ``now`` is forgotten.  Callers' ``now`` values need not be
    monotonic, so an entry whose ``expires_at`` is at or before a time the
    store has already forgotten up to is FENCED (it may have been used).  A
    FENCED entry is not marked.
    Implementations raise :class:`ecert_token.errors.StoreUnavailable` when
    they cannot answer, and nothing else; the verifier then fails closed.
    """

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        """Mark ``entry`` used; say whether this was its first use."""
        ...

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        """The batch form: one result per entry, in order, in one round trip.

        An id repeated within the batch is FIRST_USE at its first position and
        REPLAYED after (OWN_MARK when it carries the same attempt value).
        """
        ...
