"""``verify_many`` on every core against the same batch verified on one core.

Both sides verify literally the same tokens: each run gets a fresh verifier
(a fresh in-memory replay store), and the two alternate round by round.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import nacl.bindings as sodium

from ecert_token.token import Verifier
from ecert_token.token.batch import default_workers, pool
from ecert_token.token.result import VerifiedToken

from .runner import median
from .scenario import NOW, REG, Scenario


@dataclass(frozen=True, slots=True)
class ParallelResult:
    workers: int
    size: int
    one_core_ops: float
    many_ops: float
    speedup: float
    """Median over rounds of one-worker time over ``workers``-worker time."""
    note: str
    capacity: float
    """How far bare libsodium verifies on the same threads scaled in the same rounds:
    the most this machine gave, since other work shares the cores."""

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
    """Per round: the batch on one worker and on ``workers``, and the same for bare
    libsodium verifies; speedups are medians of the per-round ratios."""
    workers = workers or default_workers()
    tokens = scenario.tokens[:size]
    ones: list[float] = []
    manys: list[float] = []
    speedups: list[float] = []
    capacities: list[float] = []
    _timed(scenario.new_verifier(), tokens, workers)  # start the pool's threads
    for r in range(rounds):
        timing: dict[int, tuple[float, float]] = {}
        for w in ((1, workers) if r % 2 == 0 else (workers, 1)):
            timing[w] = (_timed(scenario.new_verifier(), tokens, w), _bare(scenario, size, w))
        ones.append(size / timing[1][0])
        manys.append(size / timing[workers][0])
        speedups.append(timing[1][0] / timing[workers][0])
        capacities.append(timing[1][1] / timing[workers][1])
        print(f"  parallel round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    capacity = median(capacities)
    note = f"threads; {workers} usable cores"
    if workers == 1:
        note = "one usable core: nothing to spread over"
    note += f"; bare libsodium on the same threads scaled {capacity:.2f}x in these rounds"
    return ParallelResult(workers, size, median(ones), median(manys), median(speedups), note,
                          capacity)
