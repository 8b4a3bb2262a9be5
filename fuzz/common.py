"""What every fuzz harness shares: the run loop, the slowest-input record, the re-timing.

A harness module defines ``one_input(data: bytes) -> None`` (raising on a
finding) and ends with ``common.main(NAME, one_input)``.  Run it as

    python fuzz/fuzz_verify.py [libFuzzer options] [corpus dirs]
    python fuzz/fuzz_verify.py --retime FILE...      (time inputs, no fuzzing)

While fuzzing, every execution is timed; an input slower than the kept ones
is run twice more and counts with its best time; the slowest (``KEEP`` of them)
are written to ``<out>/slowest/`` with ``<out>/stats.json`` beside them
(``<out>`` is ``$ECERT_FUZZ_OUT``, else ``fuzz/out/<name>``), so a long run
leaves its slowest input behind even if it is killed.  A
single wall-clock time on a loaded machine includes scheduler and garbage
collector pauses, so ``--retime`` runs each kept input again (best of
``RETIME_ROUNDS``) and ``fuzz/run.py`` flags an input only if its best time
is above ``SLOW_SECONDS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import atheris

SLOW_SECONDS = 0.010
"""An input slower than this (best of the re-timing rounds) is a finding (issue #11)."""
KEEP = 8
"""How many of the slowest distinct inputs are kept for re-timing."""
RETIME_ROUNDS = 10
SAVE_EVERY = 1 << 16
"""Executions between two writes of ``stats.json``."""
ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"


def out_directory(name: str) -> Path:
    """Where a run of harness ``name`` writes its records."""
    return Path(os.environ.get("ECERT_FUZZ_OUT") or ROOT / "out" / name)


def scratch_directory(prefix: str) -> Path:
    """A fresh temporary directory, in memory (``/dev/shm``) where there is one:
    the loaders' fsyncs cost milliseconds on a disk and nothing there."""
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private directory in it
    return Path(tempfile.mkdtemp(prefix=prefix, dir=shm if shm.is_dir() else None))


def quiet_logs() -> None:
    """Stop the library's log records (a warning per refused saved list would
    write millions of lines); the calls still run, the records go nowhere."""
    # A level, not ``disabled``: children such as ``ecert_token.trust`` take the
    # level from here, while ``disabled`` would stop only this logger's own records.
    logging.getLogger("ecert_token").setLevel(logging.CRITICAL + 1)


def instrumented() -> object:
    """Context manager: import the library with atheris' coverage instrumentation."""
    return atheris.instrument_imports(include=["ecert_token"])


class Slowest:
    """Times each execution and keeps the ``KEEP`` slowest distinct inputs on disk."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.directory = out_directory(name) / "slowest"
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.iterdir():
            old.unlink()
        self.execs = 0
        self.kept: dict[str, float] = {}  # file name -> seconds
        self.floor = 0.0  # the smallest kept time once KEEP are kept

    def wrap(self, target: Callable[[bytes], None]) -> Callable[[bytes], None]:
        clock = time.perf_counter

        def timed(data: bytes) -> None:
            start = clock()
            target(data)
            elapsed = clock() - start
            self.execs += 1
            if elapsed > self.floor:
                # One slow run may be a pause of the machine, not the input's
                # cost: a candidate counts with its best of three runs.
                for _ in range(2):
                    start = clock()
                    target(data)
                    elapsed = min(elapsed, clock() - start)
                if elapsed > self.floor:
                    self._keep(data, elapsed)
            if not self.execs % SAVE_EVERY:
                self.save()

        return timed

    def _keep(self, data: bytes, elapsed: float) -> None:
        name = hashlib.sha256(data).hexdigest()[:16]
        if self.kept.get(name, 0.0) >= elapsed:
            return
        if name not in self.kept and len(self.kept) >= KEEP:
            fastest = min(self.kept, key=self.kept.__getitem__)
            del self.kept[fastest]
            (self.directory / fastest).unlink(missing_ok=True)
        self.kept[name] = elapsed
        (self.directory / name).write_bytes(data)
        if len(self.kept) >= KEEP:
            self.floor = min(self.kept.values())
        self.save()

    def save(self) -> None:
        record = {
            "harness": self.name,
            "executions_seen_by_harness": self.execs,
            "slowest_best_of_3_seconds": dict(
                sorted(self.kept.items(), key=lambda kv: -kv[1])
            ),
        }
        tmp = self.directory.parent / "stats.json.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(self.directory.parent / "stats.json")


def retime(target: Callable[[bytes], None], paths: list[str]) -> int:
    """Print ``{"file": best_seconds}`` as JSON for each input (best of the rounds)."""
    best: dict[str, float] = {}
    for path in paths:
        data = Path(path).read_bytes()
        times = []
        for _ in range(RETIME_ROUNDS):
            start = time.perf_counter()
            target(data)
            times.append(time.perf_counter() - start)
        best[path] = min(times)
    print(json.dumps(best))
    return 0


def _mutation(rng: random.Random, seed: bytes) -> bytes:
    """One to four random edits of ``seed``: set, insert or delete a byte, or truncate."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        edit = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if edit == 0 and at < len(data):
            data[at] = rng.randrange(256)
        elif edit == 1:
            data.insert(at, rng.randrange(256))
        elif edit == 2 and at < len(data):
            del data[at]
        elif edit == 3:
            del data[at:]
    return bytes(data)


def mutate(target: Callable[[bytes], None], count: int, directories: list[str]) -> int:
    """Run every input of ``directories`` and ``count`` random mutations of each
    (seeded, no coverage feedback): for builds whose coverage hooks are not
    libFuzzer's, such as the extensions under ASan (``.ci/asan``)."""
    rng = random.Random(0)
    runs = 0
    for directory in directories:
        for path in sorted(Path(directory).iterdir()):
            seed = path.read_bytes()
            target(seed)
            for _ in range(count):
                target(_mutation(rng, seed))
            runs += 1 + count
    print(f"{runs} inputs run")
    return 0


def dispatch(
    entry_points: tuple[Callable[[bytes], object], ...], allowed: type[BaseException]
) -> Callable[[bytes], None]:
    """A ``one_input`` whose byte 0 picks one of ``entry_points`` and the rest is its
    input; ``allowed`` (the library's error family) is the only exception let through
    quietly, any other is a finding."""
    def one_input(data: bytes) -> None:
        if not data:
            return
        with contextlib.suppress(allowed):
            entry_points[data[0] % len(entry_points)](data[1:])

    return one_input


def main(name: str, one_input: Callable[[bytes], None]) -> None:
    """Fuzz ``one_input`` (libFuzzer options in ``sys.argv``), re-time inputs
    (``--retime FILE...``) or mutate seeds without coverage (``--mutate N DIR...``)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--retime":
        raise SystemExit(retime(one_input, sys.argv[2:]))
    if len(sys.argv) > 2 and sys.argv[1] == "--mutate":
        raise SystemExit(mutate(one_input, int(sys.argv[2]), sys.argv[3:]))
    slowest = Slowest(name)
    atheris.Setup(sys.argv, slowest.wrap(one_input))
    atheris.Fuzz()
