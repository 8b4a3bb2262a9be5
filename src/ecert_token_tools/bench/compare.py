"""``ecert bench``: one interleaved run of every contender, ratios against the targets.

The targets (issues 5 and 11, docs/performance.md), all ratios within this one run:

* full verify throughput >= 0.92x the bare libsodium Ed25519 verify with the C
  accelerator, >= 0.75x in pure Python;
* full verify >= 1.8x python-cwt decoding the same token;
* each kind of rejection costs <= 5% of a valid verify;
* mint throughput >= 0.8x the bare libsodium sign;
* verify p99 latency <= 2x its median;
* ``verify_many`` on all cores >= 1.7x one core (on a 2-core machine).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecert_token.cli.bench_cmd import add_arguments

from . import growth, machine, parallel
from .runner import Stats, paired_ratio, run
from .scenario import Scenario

VERIFY = "ecert verify (full)"
BARE_VERIFY = "libsodium Ed25519 verify (PyNaCl)"
CWT = "python-cwt decode (same token)"
MINT = "ecert mint"
BARE_SIGN = "libsodium Ed25519 sign (PyNaCl)"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: float | None
    limit: float
    at_least: bool
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT MEASURED"
        ok = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "PASS" if ok else "FAIL"

    def to_dict(self) -> dict[str, object]:
        return {"target": self.name, "value": None if self.value is None else round(self.value, 3),
                "limit": self.limit, "at_least": self.at_least, "verdict": self.verdict,
                "note": self.note}


VERIFY_LIMIT = 0.92
VERIFY_LIMIT_PURE = 0.75
REJECT_LIMIT = 0.05
MINT_LIMIT = 0.8
"""Issue 11's limits (with the accelerator; the pure-Python verify has its own)."""
FLAT = 1.10
"""Cost growth counts as flat when every variant is within 10% of the smallest one."""


def targets(stats: Sequence[Stats], par: parallel.ParallelResult | None,
            notes: dict[str, str], grown: Sequence[Stats] = ()) -> list[Target]:
    by = {s.name: s for s in stats}

    def ratio(a: str, b: str) -> float | None:
        return paired_ratio(by[a], by[b]) if a in by and b in by else None

    v = by[VERIFY]
    accelerated = machine.speedups()["accelerator"] == "C extension"
    out = [
        Target("full verify / bare libsodium verify (throughput)", ratio(VERIFY, BARE_VERIFY),
               VERIFY_LIMIT if accelerated else VERIFY_LIMIT_PURE, True),
        Target("full verify / python-cwt decode (throughput)", ratio(VERIFY, CWT), 1.8, True,
               notes.get("python-cwt", "")),
    ]
    for s in stats:
        if s.group == "reject":
            out.append(Target(f"{s.name} / valid verify (time per op)",
                              paired_ratio(v, s), REJECT_LIMIT, False))
    out.append(Target("mint / bare libsodium sign (throughput)", ratio(MINT, BARE_SIGN),
                      MINT_LIMIT, True))
    bare = by.get(BARE_VERIFY)
    context = (f"bare libsodium verify in the same run: {bare.p99_us / bare.median_us:.2f}"
               if bare is not None and bare.median_us else "")
    out.append(Target("verify p99 / median latency", v.p99_us / v.median_us if v.median_us
                      else None, 2.0, False, context))
    if par is not None:
        out.append(Target(f"verify_many on {par.workers} workers / one core (throughput)",
                          par.speedup, 1.7, True, par.note))
    for group, spread in growth.flatness(grown).items():
        out.append(Target(f"{group}: largest cost ratio to the smallest", spread, FLAT,
                          False, "flat means a lookup, not a search"))
    return out


def render(stats: Sequence[Stats], tgts: Sequence[Target], info: dict[str, object],
           par: parallel.ParallelResult | None, grown: Sequence[Stats] = ()) -> str:
    lines = ["| operation | ops/s | mean ops/s | median µs | p99 µs |",
             "|---|---:|---:|---:|---:|"]
    for s in (*stats, *grown):
        lines.append(f"| {s.name} | {s.ops_per_s:,.0f} | {s.mean_ops_per_s:,.0f} "
                     f"| {s.median_us:.1f} | {s.p99_us:.1f} |")
    if par is not None:
        for name, ops in par.rows():
            lines.append(f"| {name} | {ops:,.0f} | | | |")
    lines += ["", "ops/s: median over the rounds of each batch's throughput; ratios: median "
              "over the rounds of the two contenders' throughputs in that round.",
              "", "| target | measured | limit | result |", "|---|---:|---:|---|"]
    for t in tgts:
        measured = "—" if t.value is None else f"{t.value:.2f}"
        op = ">=" if t.at_least else "<="
        lines.append(f"| {t.name} | {measured} | {op} {t.limit} | {t.verdict} |")
    libs = info["libraries"]
    assert isinstance(libs, dict)
    versions = ", ".join(f"{k} {v}" for k, v in libs.items() if v)
    ext = info["speedups"]
    assert isinstance(ext, dict)
    built = [name for name, how in ext.items() if how == "C extension"]
    compiled = f"C extensions: {', '.join(built)}" if built else "pure Python (no C extensions)"
    lines += ["", f"Machine: {info['cpu']}, {info['cores']} cores, {info['python']}; {versions}; "
              f"{compiled}."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecert bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return execute(parser.parse_args(argv))


def _command_line() -> str:
    """How this run was started, for the report."""
    argv = sys.argv
    if argv[1:2] == ["bench"]:
        return " ".join(["ecert", *argv[1:]])
    return " ".join(["python", *argv])


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(message, file=sys.stderr, flush=True)


def execute(args: argparse.Namespace) -> int:
    rounds = args.rounds or (3 if args.quick else 30)
    batch = args.batch or (40 if args.quick else 500)
    warmup = 1
    count = (rounds + warmup) * batch
    started = time.time()
    log(f"preparing {count} tokens and the peers' inputs ...")
    scenario = Scenario(count, cbor2_dir=args.cbor2_5, peers=not args.no_peers)
    for name, note in scenario.peer_notes.items():
        log(f"  {name}: {note}")
    contenders = scenario.contenders(count)
    gc.collect()
    log(f"running {rounds} interleaved rounds of {batch} operations x {len(contenders)} ...")
    stats = run(contenders, rounds, batch, warmup=warmup)
    par = None
    if not args.no_parallel:
        log("verify_many against one core ...")
        par = parallel.measure(scenario, rounds=2 if args.quick else 16,
                               size=64 if args.quick else 1024)
    grown: list[Stats] = []
    if not args.no_growth:
        log("cost growth: replay window and trust store size ...")
        grown = growth.measure(
            scenario, rounds=rounds, batch=max(8, batch // 2),
            windows=(1, 10_000) if args.quick else (1, 10_000, 1_000_000),
            key_counts=(1, 10) if args.quick else (1, 10, 100, 1_000),
        )
    info = machine.describe()
    tgts = targets(stats, par, scenario.peer_notes, grown)
    print(render(stats, tgts, info, par, grown))
    if args.json:
        report = {
            "command": _command_line(),
            "quick": args.quick, "rounds": rounds, "batch": batch,
            "seconds": round(time.time() - started, 1),
            "machine": info, "peers": scenario.peer_notes,
            "results": [s.to_dict() for s in stats],
            "growth": [s.to_dict() for s in grown],
            "parallel": None if par is None else par.to_dict(),
            "targets": [t.to_dict() for t in tgts],
        }
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {args.json}")
    return 0
