"""Verification policy as data, separate from the cryptography (Tink's validator idea)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..clock import Clock, system_clock
from ..errors import InvalidArgument
from ..model import BusinessType
from ..replay.base import DEFAULT_LEEWAY, MAX_LEEWAY  # one definition, shared with the stores

DEFAULT_TTL = 60
MIN_TTL = 10
MAX_TTL = 300


def _accepts_all() -> frozenset[BusinessType]:
    return frozenset(BusinessType)


@dataclass(frozen=True, slots=True, init=False)
class VerifyPolicy:
    """What a verifier accepts.

    * ``business_types``: the steps this terminal performs;
    * ``leeway``: one clock tolerance (seconds) applied alike to expiry,
      not-before and issued-at; small (5 s) so a 60 s code is not silently
      valid for twice as long, and capped at 30 s;
    * ``max_lifetime``: longest exp - iat accepted;
      (both durations: whole seconds as an ``int``, or a ``datetime.timedelta``
      of whole seconds; they are kept as ``int`` seconds);
    * ``clock``: where "now" comes from (injectable for tests);
    * ``credential_usable``: optional hook that says whether a credential id
      may still be used (for example, not unbound since the code was minted);
      asked for the subject and, on a family code, for the presenting holder.
    """

    business_types: frozenset[BusinessType]
    leeway: int
    max_lifetime: int
    clock: Clock
    credential_usable: Callable[[str], bool] | None

    def __init__(
        self,
        business_types: frozenset[BusinessType] | None = None,
        leeway: int | timedelta = DEFAULT_LEEWAY,
        max_lifetime: int | timedelta = MAX_TTL,
        clock: Clock = system_clock,
        credential_usable: Callable[[str], bool] | None = None,
    ) -> None:
        init = object.__setattr__  # frozen: the one place the fields are set
        init(self, "business_types", _accepts_all() if business_types is None else business_types)
        init(self, "leeway", _seconds(leeway, "leeway"))
        init(self, "max_lifetime", _seconds(max_lifetime, "max_lifetime"))
        init(self, "clock", clock)
        init(self, "credential_usable", credential_usable)
        self.__post_init__()

    def __post_init__(self) -> None:
        if not isinstance(self.business_types, frozenset) or not all(
            isinstance(b, BusinessType) for b in self.business_types
        ):
            raise InvalidArgument("business_types must be a frozenset of BusinessType")
        if isinstance(self.leeway, bool) or not isinstance(self.leeway, int) or not (
            0 <= self.leeway <= MAX_LEEWAY
        ):
            raise InvalidArgument(f"leeway must be 0 to {MAX_LEEWAY} seconds")
        if isinstance(self.max_lifetime, bool) or not isinstance(self.max_lifetime, int) or not (
            MIN_TTL <= self.max_lifetime <= MAX_TTL
        ):
            raise InvalidArgument(f"max_lifetime must be {MIN_TTL} to {MAX_TTL} seconds")

    @property
    def replay_window(self) -> int:
        """Seconds after a replay store's memory began during which a fenced token can
        still be valid: its ``iat`` may be up to ``leeway + 1`` after the memory began
        (see :meth:`Verifier.replay_entry`) and it is accepted until
        ``iat + max_lifetime + leeway``.  Stores are built with this as ``max_lifetime``.
        """
        return self.max_lifetime + 2 * self.leeway + 1


def _seconds(value: object, name: str) -> object:
    """A duration as whole seconds: an int as it is, a timedelta of whole seconds as
    its int; anything else is left for the range checks to refuse."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise InvalidArgument(f"{name} must be whole seconds")
        return int(seconds)
    return value


def business_type_accepts(requested: BusinessType, presented: BusinessType) -> bool:
    """May a token minted for ``presented`` be used for the ``requested`` step?

    A payment step needs a token minted for exactly that step.  An identity
    step accepts any identity-class token, never a payment one (using a
    payment token for identity would burn it), and an identity token never
    opens a payment step.
    """
    if requested.is_payment:
        return presented is requested
    return not presented.is_payment


def whole_seconds(now: object) -> int:
    """``now`` as the verifier needs it: an int (a NaN would pass every time check)."""
    if isinstance(now, bool) or not isinstance(now, int):
        raise InvalidArgument("now must be a Unix time in whole seconds")
    return now
