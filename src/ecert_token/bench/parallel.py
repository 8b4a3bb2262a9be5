"""``verify_many`` on every core against the same batch verified on one core.

Both sides verify literally the same tokens: each run gets a fresh verifier
(a fresh in-memory replay store), and the two alternate round by round.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import nacl.bindings as sodium

from ..token import Verifier
from ..token.batch import default_workers, pool
from ..token.result import VerifiedToken
from .scenario import NOW, REG, Scenario


@dataclass(frozen=True, slots=True)
class ParallelResult:
    workers: int
    size: int
    one_core_ops: float
    many_ops: float
    note: str
    capacity: float
    """How far bare libsodium verifies on the same threads scaled in the same rounds:
    the most this machine gave, since other work shares the cores."""

    @property
    def speedup(self) -> float:
        return self.many_ops / self.one_core_ops if self.one_core_ops else 0.0

    def rows(self) -> list[tuple[str, float]]:
        return [(f"verify_many, 1 worker (batch {self.size})", self.one_core_ops),
                (f"verify_many, {self.workers} workers (batch {self.size})", self.many_ops)]

    def to_dict(self) -> dict[str, object]:
        return {"workers": self.workers, "batch": self.size,
                "one_core_ops_per_s": round(self.one_core_ops, 1),
                "many_ops_per_s": round(self.many_ops, 1), "speedup": round(self.speedup, 3),
                "bare_libsodium_thread_speedup": round(self.capacity, 3), "note": self.note}


def _timed(verifier: Verifier, tokens: list[str], workers: int) -> float:
    t0 = time.perf_counter()
    results = verifier.verify_many(tokens, REG, now=NOW, workers=workers)
    elapsed = time.perf_counter() - t0
    if not all(type(r) is VerifiedToken for r in results):
        raise AssertionError("verify_many rejected a valid token")
    return elapsed


def _bare(scenario: Scenario, size: int, workers: int) -> float:
    """Wall time of ``size`` bare libsodium verifies spread over ``workers`` threads."""
    signed, pk = scenario.signed, scenario.public_raw
    chunk = -(-size // workers)

    def work(start: int) -> None:
        for i in range(start, min(size, start + chunk)):
            sodium.crypto_sign_open(signed[i % len(signed)], pk)

    t0 = time.perf_counter()
    if workers == 1:
        work(0)
    else:
        list(pool(workers).map(work, range(0, size, chunk)))
    return time.perf_counter() - t0


def measure(scenario: Scenario, rounds: int, size: int,
            workers: int | None = None) -> ParallelResult:
    workers = workers or default_workers()
    tokens = scenario.tokens[:size]
    one = many = bare_one = bare_many = 0.0
    _timed(scenario.new_verifier(), tokens, workers)  # start the pool's threads
    for r in range(rounds):
        order = (1, workers) if r % 2 == 0 else (workers, 1)
        for w in order:
            elapsed = _timed(scenario.new_verifier(), tokens, w)
            bare = _bare(scenario, size, w)
            if w == 1:
                one += elapsed
                bare_one += bare
            else:
                many += elapsed
                bare_many += bare
        print(f"  parallel round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    note = f"threads; {workers} usable cores"
    if workers == 1:
        note = "one usable core: nothing to spread over"
    capacity = bare_one / bare_many if bare_many else 0.0
    note += f"; bare libsodium on the same threads scaled {capacity:.2f}x in these rounds"
    return ParallelResult(workers, size, rounds * size / one, rounds * size / many, note,
                          capacity)
