"""Interleaved measurement: every contender runs once per round, in rotating order.

Machines shared with other work drift; measuring contender A for a minute
and then B for a minute turns that drift into a false ratio.  Here a round
runs a short batch of each contender in turn (the order rotates every round)
so every ratio compares batches measured seconds apart, on the same inputs.
Each operation is timed alone (``perf_counter_ns``) for the latency
percentiles.  Throughput is kept per round (a batch's operations over its
wall time); the reported ops/s is the median over the rounds, and a ratio
between two contenders is the median of their per-round ratios (paired:
both batches ran moments apart).  On a machine shared with other work a
preemption burst lands on one batch; the median keeps it from deciding the
result, where a plain total would let it.  The overall mean is kept too.
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
    """Per-operation latencies (ns), total batch time and per-round throughput."""

    latencies: list[int] = field(default_factory=list)
    wall_ns: int = 0
    ops: int = 0
    per_round: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Stats:
    name: str
    group: str
    ops: int
    ops_per_s: float
    """Median over the rounds of the batch throughput."""
    median_us: float
    p99_us: float
    mean_ops_per_s: float = 0.0
    """All operations over all batch time (sensitive to bursts of other work)."""
    per_round: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "group": self.group, "ops": self.ops,
            "ops_per_s": round(self.ops_per_s, 1), "median_us": round(self.median_us, 2),
            "p99_us": round(self.p99_us, 2), "mean_ops_per_s": round(self.mean_ops_per_s, 1),
            "per_round_ops_per_s": [round(x, 1) for x in self.per_round],
        }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def paired_ratio(a: Stats, b: Stats) -> float | None:
    """Median over rounds of a's throughput over b's in the same round."""
    pairs = [x / y for x, y in zip(a.per_round, b.per_round, strict=False) if y]
    return median(pairs) if pairs else None


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
    wall = clock() - batch_start
    samples.wall_ns += wall
    samples.ops += count
    samples.per_round.append(count / (wall / 1e9) if wall else 0.0)


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
            c.name, c.group, s.ops, median(s.per_round),
            percentile(lat, 0.5) / 1000, percentile(lat, 0.99) / 1000,
            s.ops / (s.wall_ns / 1e9) if s.wall_ns else 0.0, tuple(s.per_round),
        ))
    return stats
