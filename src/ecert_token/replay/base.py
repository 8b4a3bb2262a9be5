"""The replay-store interface: one atomic check-and-mark per token id.

A token id may be accepted once.  The key is the issuer and the token id
(never the token's bytes, so a re-encrypted envelope around the same signed
token is still caught).  A store keeps an id only until the token expires, so
its memory is bounded by the lifetime window.

Restart fencing: a store that may have lost its memory (a new in-memory store,
a restarted or flushed Redis) knows when its memory begins.  Until one maximum
token lifetime has passed since then, tokens issued before that moment get
:attr:`MarkResult.FENCED`: the store cannot rule out that they were used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable


class MarkResult(Enum):
    """Outcome of one check-and-mark."""

    FIRST_USE = "first_use"
    REPLAYED = "replayed"
    FENCED = "fenced"


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    """What a store needs to know about one verified token."""

    issuer: str
    token_id: bytes
    issued_at: int
    expires_at: int


@runtime_checkable
class ReplayStore(Protocol):
    """Atomic, bounded memory of used token ids.

    Implementations raise :class:`ecert_token.errors.StoreUnavailable` when
    they cannot answer; the verifier then fails closed.
    """

    def check_and_mark(self, entry: ReplayEntry, now: int) -> MarkResult:
        """Mark ``entry`` used; say whether this was its first use."""
        ...

    def check_and_mark_many(self, entries: Sequence[ReplayEntry], now: int) -> list[MarkResult]:
        """The batch form: one result per entry, in order, in one round trip.

        An id repeated within the batch is FIRST_USE at its first position and
        REPLAYED after.
        """
        ...
