"""Injectable time: every API that needs "now" takes a clock or an explicit time.

A clock is any zero-argument callable returning Unix time in seconds.  Tests
pass a fixed or stepping clock; nothing in the library sleeps or reads the
system time behind the caller's back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""Returns the current Unix time in whole seconds."""


def system_clock() -> int:
    """The machine's wall clock, in whole seconds."""
    return int(time.time())


class FixedClock:
    """A clock that reads a settable time; ``advance`` moves it forward."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds
