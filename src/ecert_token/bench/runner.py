"""Interleaved measurement: every contender runs once per round, in rotating order.

Machines shared with other work drift; measuring contender A for a minute
and then B for a minute turns that drift into a false ratio.  Here a round
runs a short batch of each contender in turn (the order rotates every round)
so every ratio compares batches measured seconds apart, on the same inputs.
Each operation is timed alone (``perf_counter_ns``) for the latency
percentiles; throughput is operations over the summed batch wall time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Op = Callable[[int], object]
"""One operation on input number ``i`` (inputs are prepared beforehand)."""


@dataclass(frozen=True, slots=True)
class Contender:
    """A named operation; ``inputs`` is how many distinct inputs it has."""

    name: str
    op: Op
    inputs: int
    group: str = "verify"


@dataclass(slots=True)
class Samples:
    """Per-operation latencies (ns) and total batch time of one contender."""

    latencies: list[int] = field(default_factory=list)
    wall_ns: int = 0
    ops: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    name: str
    group: str
    ops: int
    ops_per_s: float
    median_us: float
    p99_us: float

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "group": self.group, "ops": self.ops,
            "ops_per_s": round(self.ops_per_s, 1), "median_us": round(self.median_us, 2),
            "p99_us": round(self.p99_us, 2),
        }


def percentile(sorted_values: Sequence[int], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank of an already sorted list."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def _batch(op: Op, start: int, count: int, inputs: int, samples: Samples) -> None:
    clock = time.perf_counter_ns
    lat = samples.latencies
    append = lat.append
    batch_start = clock()
    for i in range(start, start + count):
        t0 = clock()
        op(i % inputs)
        append(clock() - t0)
    samples.wall_ns += clock() - batch_start
    samples.ops += count


def run(
    contenders: Sequence[Contender],
    rounds: int,
    batch: int,
    *,
    warmup: int = 1,
    progress: bool = True,
) -> list[Stats]:
    """Run ``rounds`` interleaved rounds of ``batch`` operations per contender."""
    samples = {c.name: Samples() for c in contenders}
    n = len(contenders)
    for r in range(warmup + rounds):
        order = [contenders[(r + k) % n] for k in range(n)]
        for c in order:
            target = samples[c.name] if r >= warmup else Samples()
            _batch(c.op, (r * batch) % max(c.inputs, 1), batch, c.inputs, target)
        if progress:
            label = "warm-up" if r < warmup else f"round {r - warmup + 1}/{rounds}"
            print(f"  {label}", file=sys.stderr, flush=True)
    stats = []
    for c in contenders:
        s = samples[c.name]
        lat = sorted(s.latencies)
        stats.append(Stats(
            c.name, c.group, s.ops, s.ops / (s.wall_ns / 1e9) if s.wall_ns else 0.0,
            percentile(lat, 0.5) / 1000, percentile(lat, 0.99) / 1000,
        ))
    return stats
